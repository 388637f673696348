/** EventPublisher implementations: EventBridge (AWS), a JSON-lines file (local stack), and a fan-out of several. */
import { appendFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Config } from "../config.js";
import { backoffMs, sleep } from "../storage/ddb.js";
import { type EventPublisher, noopPublisher, type ServiceEvent } from "./events.js";

/** PutEvents takes ten entries per call. */
const PUT_EVENTS_LIMIT = 10;
const PUT_EVENTS_ATTEMPTS = 4;

/** PutEvents in tens; entries EventBridge did not accept are retried with backoff, then the publish throws. */
export function createEventBridgePublisher(
  client: EventBridgeClient,
  busName: string,
  wait: (ms: number) => Promise<void> = sleep,
): EventPublisher {
  return {
    async publish(events) {
      for (let i = 0; i < events.length; i += PUT_EVENTS_LIMIT) {
        let pending: PutEventsRequestEntry[] = events.slice(i, i + PUT_EVENTS_LIMIT).map((event) => ({
          EventBusName: busName,
          Source: event.source,
          DetailType: event["detail-type"],
          Detail: JSON.stringify(event.detail),
          Time: new Date(event.time),
        }));
        for (let attempt = 0; pending.length > 0; attempt++) {
          if (attempt >= PUT_EVENTS_ATTEMPTS) {
            throw new Error(`EventBridge did not accept ${pending.length} event(s) after ${attempt} attempts`);
          }
          if (attempt > 0) await wait(backoffMs(attempt, 100, 2_000));
          const result = await client.send(new PutEventsCommand({ Entries: pending }));
          const entries = result.Entries ?? [];
          pending = pending.filter((_, n) => (result.FailedEntryCount ?? 0) > 0 && entries[n]?.ErrorCode !== undefined);
        }
      }
    },
  };
}

/** Appends each event as one JSON line (the local stack's `{DATA_DIR}/events.jsonl`). */
export function createJsonlPublisher(file: string): EventPublisher {
  let ready: Promise<unknown> | undefined;
  return {
    async publish(events) {
      if (events.length === 0) return;
      ready ??= mkdir(dirname(file), { recursive: true });
      await ready;
      await appendFile(file, events.map((event) => `${JSON.stringify(withId(event))}\n`).join(""), "utf8");
    },
  };
}

/** Publishes to each target in turn (the local stack: the file, then the local webhook queue). */
export function fanOutPublisher(...targets: EventPublisher[]): EventPublisher {
  return {
    async publish(events) {
      for (const target of targets) await target.publish(events);
    },
  };
}

/** An id like EventBridge's, for events that did not come through it. */
export function withId(event: ServiceEvent): ServiceEvent {
  return event.id ? event : { id: crypto.randomUUID(), ...event };
}

/**
 * The local stand-in for the bus rule that targets the webhook queue: each event becomes one SQS message whose body is
 * the event as EventBridge would deliver it.
 */
export function createQueuePublisher(sqs: SQSClient, queueUrl: string): EventPublisher {
  return {
    async publish(events) {
      for (const event of events) {
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(withId(event)) }));
      }
    },
  };
}

/**
 * The publisher the configuration asks for: EventBridge when a bus is named (AWS: its rule feeds the webhook queue);
 * otherwise the JSON-lines file and the webhook queue when set (the local stack); else none.
 */
export function createConfiguredPublisher(
  config: Pick<Config, "EVENT_BUS_NAME" | "EVENTS_FILE" | "WEBHOOK_QUEUE_URL" | "AWS_REGION">,
  sqs: SQSClient,
): EventPublisher {
  if (config.EVENT_BUS_NAME) {
    return createEventBridgePublisher(new EventBridgeClient({ region: config.AWS_REGION }), config.EVENT_BUS_NAME);
  }
  const targets: EventPublisher[] = [];
  if (config.EVENTS_FILE) targets.push(createJsonlPublisher(config.EVENTS_FILE));
  if (config.WEBHOOK_QUEUE_URL) targets.push(createQueuePublisher(sqs, config.WEBHOOK_QUEUE_URL));
  return targets.length === 0 ? noopPublisher : fanOutPublisher(...targets);
}
