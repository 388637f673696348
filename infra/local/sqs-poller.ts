/**
 * Lambda's SQS event source mapping, on one machine: long-polls the queue, hands each batch to the sync-worker
 * handler as an SQS event with a Lambda-like context, and then does what Lambda does with the answer:
 *
 * - returned nothing, or an empty/null `batchItemFailures` → every record succeeded and is deleted;
 * - `batchItemFailures` naming records of the batch → all the others are deleted; the named ones stay invisible until
 *   the queue's visibility timeout ends and are then received again (the queue's redrive policy moves a message to
 *   the DLQ after too many receives);
 * - a malformed failure list (an empty, missing or unknown `itemIdentifier`), a thrown error or a timeout → nothing
 *   is deleted: the whole batch is retried.
 *
 * A handler that runs past its timeout cannot be killed inside one Node process as Lambda would kill it: its batch is
 * treated as failed, and the handler keeps running in the background until it settles (stop() still waits for it).
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
  SQSRecordAttributes,
} from "aws-lambda";
import type { Logger } from "../../shared/log.js";
import { createLambdaContext } from "./lambda-context.js";

// biome-ignore lint/suspicious/noConfusingVoidType: an SQS handler may return nothing, as in Lambda's own typing.
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void | undefined>;

export interface SqsPollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  handler: SqsHandler;
  /** 1-10: the records per invocation (one ReceiveMessage). */
  batchSize: number;
  /** The function's timeout: the context's deadline, and when a batch counts as failed. */
  timeoutMs: number;
  /** Batches handled at the same time (Lambda's concurrency for this mapping). Default 2. */
  concurrency?: number;
  /** Long-poll wait of each ReceiveMessage; stop() aborts it. Default 10. */
  waitTimeSeconds?: number;
  functionName?: string;
  region?: string;
  log: Logger;
  /** Called after each batch with what became of its records (tests and logs). */
  onBatch?: (outcome: BatchOutcome) => void;
}

export interface BatchOutcome {
  messageIds: string[];
  /** Deleted from the queue: these succeeded. */
  deleted: string[];
  /** Left on the queue: they come back after the visibility timeout. */
  retried: string[];
  result: "ok" | "partial" | "error" | "timeout";
}

export interface PollerStats {
  batches: number;
  received: number;
  deleted: number;
  retried: number;
  errors: number;
  timeouts: number;
}

export interface SqsPoller {
  readonly stats: PollerStats;
  /** Handler invocations still running. */
  inFlight(): number;
  /**
   * Stops receiving and waits up to `graceMs` for running invocations to settle (their successes are still deleted).
   * `drained` is false when some were still running at the end of the wait.
   */
  stop(graceMs: number): Promise<{ drained: boolean }>;
}

/** Starts `concurrency` polling loops; resolves at once. */
export function startSqsPoller(options: SqsPollerOptions): SqsPoller {
  const batchSize = Math.min(10, Math.max(1, Math.floor(options.batchSize)));
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const waitTimeSeconds = options.waitTimeSeconds ?? 10;
  const functionName = options.functionName ?? "sync-worker";
  const region = options.region ?? "us-east-1";
  const log = options.log;
  const stats: PollerStats = { batches: 0, received: 0, deleted: 0, retried: 0, errors: 0, timeouts: 0 };
  const running = new Set<Promise<unknown>>();
  const abort = new AbortController();
  let stopping = false;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        abort.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      abort.signal.addEventListener("abort", done, { once: true });
    });

  const receive = async (): Promise<Message[]> => {
    const response = await options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: batchSize,
        WaitTimeSeconds: waitTimeSeconds,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
      { abortSignal: abort.signal },
    );
    return response.Messages ?? [];
  };

  const deleteRecords = async (records: SQSRecord[]): Promise<string[]> => {
    const deleted: string[] = [];
    for (let start = 0; start < records.length; start += 10) {
      let pending = records.slice(start, start + 10);
      for (let attempt = 0; attempt < 3 && pending.length > 0; attempt++) {
        try {
          const response = await options.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: options.queueUrl,
              Entries: pending.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
            }),
          );
          const failed = new Set((response.Failed ?? []).map((entry) => entry.Id));
          deleted.push(...pending.filter((_, index) => !failed.has(String(index))).map((r) => r.messageId));
          pending = pending.filter((_, index) => failed.has(String(index)));
        } catch (error) {
          log.warn("DeleteMessageBatch failed; retrying", { attempt, error });
        }
      }
      // Not deleted: SQS delivers it again after the visibility timeout, and the worker treats it as a duplicate.
      if (pending.length > 0) {
        log.warn("messages could not be deleted and will be delivered again", {
          messageIds: pending.map((r) => r.messageId),
        });
      }
    }
    return deleted;
  };

  const invoke = async (messages: Message[]): Promise<void> => {
    const event = toSqsEvent(messages, options.queueArn, region);
    const context = createLambdaContext({ functionName, timeoutMs: options.timeoutMs, region });
    const invocation = options.handler(event, context);
    running.add(invocation);
    invocation.then(
      () => running.delete(invocation),
      () => running.delete(invocation),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), options.timeoutMs);
    });
    let answer: { kind: "ok"; value: unknown } | { kind: "error"; error: unknown } | { kind: "timeout" };
    try {
      const settled = await Promise.race([invocation.then((value) => ({ value })), timeout]);
      answer = settled === "timeout" ? { kind: "timeout" } : { kind: "ok", value: settled.value };
    } catch (error) {
      answer = { kind: "error", error };
    } finally {
      clearTimeout(timer);
    }

    let succeeded: SQSRecord[];
    let result: BatchOutcome["result"];
    if (answer.kind === "ok") {
      const verdict = interpretBatchResponse(event.Records, answer.value);
      succeeded = verdict.succeeded;
      result = verdict.malformed ? "error" : succeeded.length === event.Records.length ? "ok" : "partial";
      if (verdict.malformed) {
        stats.errors++;
        log.error("sync-worker returned a malformed batchItemFailures list; the whole batch will be retried", {
          awsRequestId: context.awsRequestId,
          reason: verdict.malformed,
        });
      }
    } else {
      succeeded = [];
      result = answer.kind;
      if (answer.kind === "timeout") {
        stats.timeouts++;
        log.error("sync-worker timed out; its batch will be retried after the visibility timeout", {
          awsRequestId: context.awsRequestId,
          timeoutMs: options.timeoutMs,
          records: event.Records.length,
        });
      } else {
        stats.errors++;
        log.error("sync-worker threw; its batch will be retried after the visibility timeout", {
          awsRequestId: context.awsRequestId,
          records: event.Records.length,
          error: answer.error,
        });
      }
    }
    const deleted = await deleteRecords(succeeded);
    const deletedSet = new Set(deleted);
    const retried = event.Records.map((r) => r.messageId).filter((id) => !deletedSet.has(id));
    stats.batches++;
    stats.deleted += deleted.length;
    stats.retried += retried.length;
    options.onBatch?.({ messageIds: event.Records.map((r) => r.messageId), deleted, retried, result });
  };

  const loop = async (): Promise<void> => {
    let failures = 0;
    while (!stopping) {
      let messages: Message[];
      try {
        messages = await receive();
        failures = 0;
      } catch (error) {
        if (stopping) break;
        failures++;
        log.warn("ReceiveMessage failed; polling again shortly", { error });
        await pause(Math.min(5_000, 100 * 2 ** failures));
        continue;
      }
      if (messages.length === 0) continue;
      stats.received += messages.length;
      await invoke(messages);
    }
  };

  const loops = Array.from({ length: concurrency }, () =>
    loop().catch((error: unknown) => log.error("SQS poller loop crashed", { error })),
  );

  return {
    stats,
    inFlight: () => running.size,
    async stop(graceMs) {
      stopping = true;
      abort.abort();
      let timer: NodeJS.Timeout | undefined;
      const settle = async () => {
        await Promise.allSettled(loops);
        // A batch that timed out leaves its handler running after its loop moved on: wait for that too.
        await Promise.allSettled([...running]);
        return true;
      };
      const drained = await Promise.race([
        settle(),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), graceMs);
        }),
      ]);
      clearTimeout(timer);
      return { drained: drained && running.size === 0 };
    },
  };
}

/** The SQS event Lambda would deliver for these received messages. */
export function toSqsEvent(messages: Message[], queueArn: string, region: string): SQSEvent {
  return {
    Records: messages.map((message) => {
      const system = message.Attributes ?? {};
      const attributes: SQSRecordAttributes = {
        ApproximateReceiveCount: system.ApproximateReceiveCount ?? "1",
        SentTimestamp: system.SentTimestamp ?? String(Date.now()),
        SenderId: system.SenderId ?? "000000000000",
        ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      };
      for (const name of [
        "AWSTraceHeader",
        "SequenceNumber",
        "MessageGroupId",
        "MessageDeduplicationId",
        "DeadLetterQueueSourceArn",
      ] as const) {
        const value = system[name];
        if (value !== undefined) attributes[name] = value;
      }
      const record: SQSRecord = {
        messageId: message.MessageId ?? "",
        receiptHandle: message.ReceiptHandle ?? "",
        body: message.Body ?? "",
        attributes,
        messageAttributes: toLambdaAttributes(message.MessageAttributes),
        md5OfBody: message.MD5OfBody ?? "",
        eventSource: "aws:sqs",
        eventSourceARN: queueArn,
        awsRegion: region,
      };
      if (message.MD5OfMessageAttributes) record.md5OfMessageAttributes = message.MD5OfMessageAttributes;
      return record;
    }),
  };
}

function toLambdaAttributes(attributes: Record<string, MessageAttributeValue> | undefined): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    const attribute: SQSMessageAttributes[string] = {
      dataType: value.DataType ?? "String",
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((b) => Buffer.from(b).toString("base64")),
    };
    if (value.StringValue !== undefined) attribute.stringValue = value.StringValue;
    if (value.BinaryValue !== undefined) attribute.binaryValue = Buffer.from(value.BinaryValue).toString("base64");
    out[name] = attribute;
  }
  return out;
}

/**
 * Which records of a batch succeeded, by Lambda's rules for ReportBatchItemFailures: nothing returned or an empty or
 * null list means all; a list of known message ids means all but those; anything malformed means none.
 */
export function interpretBatchResponse(
  records: SQSRecord[],
  response: unknown,
): { succeeded: SQSRecord[]; malformed?: string } {
  if (response === undefined || response === null) return { succeeded: records };
  if (typeof response !== "object") return { succeeded: [], malformed: "the response is not an object" };
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { succeeded: records };
  if (!Array.isArray(failures)) return { succeeded: [], malformed: "batchItemFailures is not a list" };
  const ids = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || id === "")
      return { succeeded: [], malformed: "an itemIdentifier is empty or missing" };
    if (!ids.has(id)) return { succeeded: [], malformed: `itemIdentifier '${id}' is not a message of this batch` };
    failed.add(id);
  }
  return { succeeded: records.filter((r) => !failed.has(r.messageId)) };
}
