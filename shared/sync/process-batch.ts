/**
 * The sync worker's service: one SQS batch, each record on its own. A malformed message goes to the DLQ with its
 * reason and counts as handled (never retried forever, never silently dropped); a transient failure is reported as a
 * batch item failure so SQS redelivers it (and redrives it to the DLQ after 5 receives), after a short delay
 * (ChangeMessageVisibility) rather than the queue's long visibility timeout. The records of a batch run concurrently,
 * so one long sync does not hold the others back.
 */
import { ChangeMessageVisibilityBatchCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { runDiscoveryMessage } from "../discovery/schedule.js";
import { ValidationError } from "../domain/errors.js";
import {
  type DiscoverMessage,
  type EraseMessage,
  type PurgeMessage,
  type QueueMessage,
  queueMessageSchema,
} from "../domain/sync-message.js";
import { fieldIssues } from "../domain/validate.js";
import type { GatewayLister } from "../gateway/client.js";
import { asEraseMessage, type LifecycleDeps, runLifecycleMessage } from "../lifecycle/worker.js";
import { type FailureKind, noMetrics, type ServiceMetrics } from "../metrics.js";
import type { QuotaLimits } from "../quotas.js";
import { ensurePartitionsFor } from "./partitions.js";
import {
  DEFAULT_SYNC_OPTIONS,
  type InvocationContext,
  runSync,
  SimulatedCrash,
  type SyncEngineDeps,
  type SyncOutcome,
} from "./run-sync.js";

/** One SQS record as the worker needs it. */
export interface QueueRecord {
  messageId: string;
  body: string;
  /** SentTimestamp (epoch ms): lets duplicates of an on-demand request collapse into one sync. */
  sentAt?: number;
  /** For ChangeMessageVisibility when the record fails. */
  receiptHandle?: string;
  /** ApproximateReceiveCount: the retry delay grows with it. */
  receiveCount?: number;
}

/** Makes failed records visible again after a delay instead of the queue's visibility timeout. */
export interface RetryScheduler {
  retryLater(records: { receiptHandle: string; delaySeconds: number }[]): Promise<void>;
}

/** The first retry waits this long; each receive doubles it (20, 40, 80, 160 s, then the DLQ after 5 receives). */
export const RETRY_VISIBILITY_BASE_SECONDS = 20;
/** Never longer than this (SQS allows 12 hours; the queue's own timeout is 30 minutes). */
export const RETRY_VISIBILITY_MAX_SECONDS = 900;

/** The visibility delay before receive number `receiveCount + 1` of a failed record. */
export function retryVisibilitySeconds(receiveCount: number): number {
  const exponent = Math.min(Math.max(0, receiveCount - 1), 10);
  return Math.min(RETRY_VISIBILITY_MAX_SECONDS, RETRY_VISIBILITY_BASE_SECONDS * 2 ** exponent);
}

/** ChangeMessageVisibilityBatch on the sync queue, ten entries per call. */
export function createSqsRetryScheduler(sqs: SQSClient, queueUrl: string): RetryScheduler {
  return {
    async retryLater(records) {
      for (let start = 0; start < records.length; start += 10) {
        await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: records.slice(start, start + 10).map((record, index) => ({
              Id: String(index),
              ReceiptHandle: record.receiptHandle,
              VisibilityTimeout: record.delaySeconds,
            })),
          }),
        );
      }
    },
  };
}

/** Where malformed messages go, with the reason as a message attribute. */
export interface DeadLetterQueue {
  send(body: string, reason: string): Promise<void>;
}

/** The DLQ on SQS: the original body, and `reason` as a String message attribute. */
export function createSqsDeadLetterQueue(sqs: SQSClient, dlqUrl: string): DeadLetterQueue {
  return {
    async send(body, reason) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: dlqUrl,
          // An empty body is not a valid SQS message; keep the evidence readable instead.
          MessageBody: body === "" ? "(empty message body)" : body,
          MessageAttributes: { reason: { DataType: "String", StringValue: reason.slice(0, 1_000) } },
        }),
      );
    },
  };
}

export interface WorkerDeps extends SyncEngineDeps {
  /** Runs `discover` messages: the gateway's listings and the schedule of the next run. */
  discovery?: { gateway: GatewayLister; intervalSeconds?: number; quotas?: QuotaLimits; purgeAfterMs?: number };
  /** Undefined when no DLQ is configured: malformed messages are then left to the queue's redrive policy. */
  deadLetters: DeadLetterQueue | undefined;
  /** A sync does not start with less time than the margin plus this; its message is re-sent instead. */
  minStartMs?: number;
  /** Purge and erase messages (shared/lifecycle); without it they are retried until the DLQ takes them. */
  lifecycle?: LifecycleDeps;
  /** Sync outcomes by failure kind, pauses, dead letters (EMF); none when undefined. */
  metrics?: ServiceMetrics;
  /** Failed records come back after retryVisibilitySeconds(); undefined: after the queue's visibility timeout. */
  retries?: RetryScheduler;
}

export type RecordResult =
  | { messageId: string; status: "synced"; outcome: SyncOutcome }
  | { messageId: string; status: "fanout"; created: number; existing: number }
  | { messageId: string; status: "discovery"; outcome: "completed" | "failed" | "skipped" }
  | { messageId: string; status: "dead_lettered"; reason: string }
  | { messageId: string; status: "deferred" }
  | { messageId: string; status: "lifecycle"; detail: string }
  | { messageId: string; status: "retry"; error: string };

export interface BatchResult {
  batchItemFailures: { itemIdentifier: string }[];
  results: RecordResult[];
}

const DEFAULT_MIN_START_MS = 10_000;

/**
 * Processes one batch, its records concurrently. Never throws for one record (a SimulatedCrash from a test hook is
 * rethrown once every record has settled, as if the process died after them).
 */
export async function processSyncBatch(
  deps: WorkerDeps,
  records: QueueRecord[],
  invocation: InvocationContext,
): Promise<BatchResult> {
  // Records run side by side, so each is its own lease owner: two copies of one message in a batch must not both
  // hold the partition's lease.
  const settled = await Promise.allSettled(
    records.map((record) =>
      processRecord(deps, record, {
        ...invocation,
        invocationId: records.length > 1 ? `${invocation.invocationId}/${record.messageId}` : invocation.invocationId,
      }),
    ),
  );
  const crash = settled.find((entry) => entry.status === "rejected");
  if (crash) throw crash.reason;
  const results = settled.map((entry) => (entry as PromiseFulfilledResult<RecordResult>).value);
  const metrics = deps.metrics ?? noMetrics;
  for (const result of results) countResult(metrics, result);
  await scheduleRetries(deps, records, results);
  return {
    batchItemFailures: results.filter((r) => r.status === "retry").map((r) => ({ itemIdentifier: r.messageId })),
    results,
  };
}

/** The metrics of one record's result: completed, or failed by kind (and paused by reason). */
export function countResult(metrics: ServiceMetrics, result: RecordResult): void {
  const kind = failureKind(result);
  if (result.status === "synced" && result.outcome.status === "completed") metrics.syncCompleted();
  if (kind !== undefined) metrics.syncFailed(kind);
  if (result.status === "synced" && result.outcome.status === "failed" && result.outcome.paused !== undefined) {
    metrics.partitionPaused(result.outcome.paused);
  }
  if (result.status === "dead_lettered") metrics.deadLettered();
  if (result.status === "discovery" && result.outcome === "failed") metrics.discoveryFailed();
}

/** Why a record's sync did not complete; undefined when it did, continues, or was a duplicate. */
export function failureKind(result: RecordResult): FailureKind | undefined {
  switch (result.status) {
    case "retry":
      return "transient";
    case "dead_lettered":
      return "malformed";
    case "synced": {
      const { outcome } = result;
      if (outcome.status === "rejected") return "malformed";
      if (outcome.status !== "failed") return undefined;
      if (outcome.paused !== undefined) return outcome.paused;
      return outcome.error.retryable === false ? "data" : "gateway";
    }
    default:
      return undefined;
  }
}

async function scheduleRetries(deps: WorkerDeps, records: QueueRecord[], results: RecordResult[]): Promise<void> {
  if (!deps.retries) return;
  const failed = new Set(results.filter((r) => r.status === "retry").map((r) => r.messageId));
  const entries = records
    .filter((record) => failed.has(record.messageId) && record.receiptHandle !== undefined)
    .map((record) => ({
      receiptHandle: record.receiptHandle as string,
      delaySeconds: retryVisibilitySeconds(record.receiveCount ?? 1),
    }));
  if (entries.length === 0) return;
  try {
    await deps.retries.retryLater(entries);
  } catch (error) {
    // The records still come back, after the queue's visibility timeout.
    deps.log.warn("could not shorten the retry delay of failed records", { error, count: entries.length });
  }
}

async function processRecord(
  deps: WorkerDeps,
  record: QueueRecord,
  invocation: InvocationContext,
): Promise<RecordResult> {
  const { messageId } = record;
  let log = deps.log.child({ messageId });
  const deadLetter = async (reason: string): Promise<RecordResult> => {
    if (!deps.deadLetters) {
      log.error("malformed message and no DLQ configured; leaving it to the redrive policy", { reason });
      return { messageId, status: "retry", error: reason };
    }
    try {
      await deps.deadLetters.send(record.body, reason);
    } catch (error) {
      log.error("could not dead-letter a message; it will be redelivered", { reason, error });
      return { messageId, status: "retry", error: reason };
    }
    log.warn("message dead-lettered", { reason });
    return { messageId, status: "dead_lettered", reason };
  };

  let message: QueueMessage;
  try {
    let json: unknown;
    try {
      json = JSON.parse(record.body);
    } catch {
      return await deadLetter("the message body is not valid JSON");
    }
    const erase = asEraseMessage(json);
    if (erase) return await lifecycleRecord(deps, messageId, erase, invocation);
    const parsed = queueMessageSchema.safeParse(json);
    if (!parsed.success) {
      const issues = fieldIssues(parsed.error)
        .slice(0, 5)
        .map((issue) => `${issue.field}: ${issue.message}`)
        .join("; ");
      return await deadLetter(`invalid message: ${issues}`);
    }
    message = parsed.data;
    log = log.child(messageLogKeys(message));
  } catch (error) {
    return { messageId, status: "retry", error: describe(error) };
  }

  try {
    if (message.kind === "purge") return await lifecycleRecord(deps, messageId, message, invocation);
    if (message.kind === "fanout") {
      const scope: Parameters<typeof ensurePartitionsFor>[1] = {
        tenantId: message.tenantId,
        integrationId: message.integrationId,
      };
      if (message.connectionId !== undefined) scope.connectionId = message.connectionId;
      if (message.dataType !== undefined) scope.dataType = message.dataType;
      const { created, existing } = await ensurePartitionsFor(deps.repos, scope, deps.clock.now());
      log.info("fan-out done", { ...scope, created, existing });
      return { messageId, status: "fanout", created, existing };
    }
    if (message.kind === "discover") return await discoverRecord(deps, message, messageId, invocation);
    const margin = deps.options?.timeMarginMs ?? DEFAULT_SYNC_OPTIONS.timeMarginMs;
    if (invocation.remainingMs() < margin + (deps.minStartMs ?? DEFAULT_MIN_START_MS)) {
      // Too little time left in this invocation to make progress: hand the message to a fresh one.
      const sent = await deps.queue.send([message]);
      if (sent.failed.length > 0) return { messageId, status: "retry", error: "could not defer the message" };
      return { messageId, status: "deferred" };
    }
    const outcome = await runSync(
      { ...deps, log },
      message,
      invocation,
      record.sentAt === undefined ? {} : { sentAt: record.sentAt },
    );
    if (outcome.status === "rejected") return await deadLetter(outcome.reason);
    return { messageId, status: "synced", outcome };
  } catch (error) {
    if (error instanceof SimulatedCrash) throw error;
    // IDs the schema let through but the key builder refuses: the message can never be processed.
    if (error instanceof ValidationError) return await deadLetter(`invalid message: ${error.message}`);
    log.error("message failed; SQS will redeliver it", { error });
    return { messageId, status: "retry", error: describe(error) };
  }
}

/** A purge or erase message; a failure is retried like any transient one. */
async function lifecycleRecord(
  deps: WorkerDeps,
  messageId: string,
  message: PurgeMessage | EraseMessage,
  invocation: InvocationContext,
): Promise<RecordResult> {
  if (!deps.lifecycle) return { messageId, status: "retry", error: "lifecycle messages are not handled here" };
  try {
    const detail = await runLifecycleMessage(deps.lifecycle, message, () => invocation.remainingMs());
    return { messageId, status: "lifecycle", detail };
  } catch (error) {
    deps.log.error("lifecycle message failed; SQS will redeliver it", { messageId, kind: message.kind, error });
    return { messageId, status: "retry", error: describe(error) };
  }
}

/** `tenantId` and `jobId` on every line about this message. */
function messageLogKeys(message: QueueMessage): Record<string, unknown> {
  const keys: Record<string, unknown> = {};
  if ("tenantId" in message) keys.tenantId = message.tenantId;
  if ("jobId" in message && message.jobId !== undefined) keys.jobId = message.jobId;
  return keys;
}

async function discoverRecord(
  deps: WorkerDeps,
  message: DiscoverMessage,
  messageId: string,
  invocation: InvocationContext,
): Promise<RecordResult> {
  if (!deps.discovery) return { messageId, status: "retry", error: "this worker cannot run discovery" };
  const margin = deps.options?.timeMarginMs ?? DEFAULT_SYNC_OPTIONS.timeMarginMs;
  const deadline = deps.clock.now() + Math.max(1_000, invocation.remainingMs() - margin);
  const { status } = await runDiscoveryMessage(
    {
      repos: deps.repos,
      gateway: deps.discovery.gateway,
      clock: deps.clock,
      log: deps.log,
      ...optional(deps.discovery.intervalSeconds),
      ...(deps.discovery.quotas ? { quotas: deps.discovery.quotas } : {}),
      ...(deps.discovery.purgeAfterMs === undefined ? {} : { purgeAfterMs: deps.discovery.purgeAfterMs }),
      ...(deps.events ? { events: deps.events } : {}),
    },
    message,
    deadline,
  );
  return { messageId, status: "discovery", outcome: status };
}

function optional(intervalSeconds: number | undefined): { intervalSeconds?: number } {
  return intervalSeconds === undefined ? {} : { intervalSeconds };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
