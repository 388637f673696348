/**
 * The sync queue as the planner, the API and the worker see it: SendMessageBatch in tens, failed entries retried with
 * backoff, `MessageGroupId` = tenant so SQS fair queues keep one busy tenant from starving the others.
 */
import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { QueueMessage } from "../domain/sync-message.js";
import { MAX_DELAY_SECONDS } from "./durations.js";

export interface SendOptions {
  /** SQS DelaySeconds (0-900): continuations after a rate limit wait upstream's Retry-After. */
  delaySeconds?: number;
}

export interface SendResult {
  /** Messages not accepted after every retry (or rejected as the sender's fault); the caller decides what that means. */
  failed: QueueMessage[];
  sendBatchCalls: number;
}

export interface SyncQueue {
  send(messages: QueueMessage[], options?: SendOptions): Promise<SendResult>;
}

export interface SqsSyncQueueOptions {
  /** Attempts per group of ten, the first included (default 4). */
  maxAttempts?: number;
  /** Send `MessageGroupId` = tenantId (default true; SQS fair queues, ignored by standard queues and fauxqs). */
  messageGroupIds?: boolean;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  baseBackoffMs?: number;
}

/** SQS allows ten entries per SendMessageBatch. */
export const SEND_BATCH_LIMIT = 10;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A SyncQueue on SQS. Entries SQS rejects as the sender's fault (too large, invalid characters) are not retried; other
 * failed entries and whole-call errors (throttling, network) are retried with full-jitter backoff, up to `maxAttempts`.
 * Never throws for a send failure: what could not be sent is returned in `failed`.
 */
export function createSqsSyncQueue(sqs: SQSClient, queueUrl: string, options: SqsSyncQueueOptions = {}): SyncQueue {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const baseBackoffMs = options.baseBackoffMs ?? 100;
  const groupIds = options.messageGroupIds ?? true;

  return {
    async send(messages, sendOptions = {}) {
      const delay = sendOptions.delaySeconds;
      const delaySeconds =
        delay === undefined ? undefined : Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.round(delay)));
      const failed: QueueMessage[] = [];
      let sendBatchCalls = 0;
      for (let start = 0; start < messages.length; start += SEND_BATCH_LIMIT) {
        let pending = messages.slice(start, start + SEND_BATCH_LIMIT).map((message, index) => ({ message, index }));
        for (let attempt = 1; pending.length > 0; attempt++) {
          const entries: SendMessageBatchRequestEntry[] = pending.map(({ message, index }) => {
            const entry: SendMessageBatchRequestEntry = { Id: `m${index}`, MessageBody: JSON.stringify(message) };
            if (groupIds) entry.MessageGroupId = message.tenantId;
            if (delaySeconds !== undefined && delaySeconds > 0) entry.DelaySeconds = delaySeconds;
            return entry;
          });
          sendBatchCalls++;
          let retry: typeof pending;
          try {
            const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
            const byId = new Map(pending.map((p) => [`m${p.index}`, p]));
            retry = [];
            for (const entry of result.Failed ?? []) {
              const item = entry.Id === undefined ? undefined : byId.get(entry.Id);
              if (!item) continue;
              if (entry.SenderFault) failed.push(item.message);
              else retry.push(item);
            }
          } catch {
            retry = pending;
          }
          if (retry.length === 0) break;
          if (attempt >= maxAttempts) {
            failed.push(...retry.map((p) => p.message));
            break;
          }
          pending = retry;
          await sleep(Math.floor(random() * baseBackoffMs * 2 ** (attempt - 1)));
        }
      }
      return { failed, sendBatchCalls };
    },
  };
}

/** The queue's visible messages (ApproximateNumberOfMessages): the planner's backpressure reads it once per run. */
export function createSqsQueueDepth(sqs: SQSClient, queueUrl: string): () => Promise<number> {
  return async () => {
    const response = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
    );
    return Number(response.Attributes?.ApproximateNumberOfMessages ?? 0);
  };
}
