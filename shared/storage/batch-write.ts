/**
 * BatchWriteItem in chunks of 25 with retries of unprocessed items. DynamoDB returns UnprocessedItems instead of an
 * error when a partition is throttled, so a caller that ignored them would silently lose writes.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { mapLimit } from "../concurrency.js";
import { InternalError } from "../domain/errors.js";
import { backoffMs, sleep as realSleep } from "./ddb.js";

/** DynamoDB's per-request limit. */
export const BATCH_WRITE_LIMIT = 25;

export type WriteRequest =
  | { PutRequest: { Item: Record<string, unknown> } }
  | { DeleteRequest: { Key: Record<string, unknown> } };

/** How unprocessed items are retried; tests inject `sleep` so the backoff costs no wall time. */
export interface RetryOptions {
  /** Attempts per 25-request chunk, the first included (default 8). */
  maxAttempts?: number;
  baseMs?: number;
  capMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Chunks written at once (default 4). */
  concurrency?: number;
}

/** Some writes were still unprocessed after every retry: retryable (throttling), and nothing was lost by the caller. */
export class BatchWriteIncompleteError extends InternalError {
  readonly retryable = true;
}

/**
 * Writes every request, 25 per BatchWriteItem, retrying unprocessed ones with full-jitter exponential backoff.
 * Returns the number of BatchWriteItem calls made. Throws BatchWriteIncompleteError after `maxAttempts`.
 */
export async function batchWriteAll(
  doc: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly WriteRequest[],
  options: RetryOptions = {},
): Promise<{ requests: number }> {
  const { maxAttempts = 8, baseMs = 50, capMs = 5_000, sleep = realSleep, random = Math.random } = options;
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) chunks.push(requests.slice(i, i + BATCH_WRITE_LIMIT));
  let calls = 0;
  await mapLimit(chunks, options.concurrency ?? 4, async (chunk) => {
    let pending: WriteRequest[] = chunk;
    for (let attempt = 1; ; attempt++) {
      calls++;
      const result = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      const unprocessed = (result.UnprocessedItems?.[tableName] ?? []) as WriteRequest[];
      if (unprocessed.length === 0) return;
      if (attempt >= maxAttempts) {
        throw new BatchWriteIncompleteError(
          `BatchWriteItem left ${unprocessed.length} of ${chunk.length} writes unprocessed after ${attempt} attempts`,
          { unprocessed: unprocessed.length, attempts: attempt, retryable: true },
        );
      }
      pending = unprocessed;
      await sleep(backoffMs(attempt, baseMs, capMs, random));
    }
  });
  return { requests: calls };
}
