/**
 * The sync worker's service: one SQS batch, each record on its own. A malformed message goes to the DLQ with its
 * reason and counts as handled (never retried forever, never silently dropped); a transient failure is reported as a
 * batch item failure so SQS redelivers it (and redrives it to the DLQ after 5 receives).
 */
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { ValidationError } from "../domain/errors.js";
import { type EraseMessage, type PurgeMessage, type QueueMessage, queueMessageSchema } from "../domain/sync-message.js";
import { fieldIssues } from "../domain/validate.js";
import { asEraseMessage, type LifecycleDeps, runLifecycleMessage } from "../lifecycle/worker.js";
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
  /** Undefined when no DLQ is configured: malformed messages are then left to the queue's redrive policy. */
  deadLetters: DeadLetterQueue | undefined;
  /** A sync does not start with less time than the margin plus this; its message is re-sent instead. */
  minStartMs?: number;
  /** Purge and erase messages (shared/lifecycle); without it they are retried until the DLQ takes them. */
  lifecycle?: LifecycleDeps;
}

export type RecordResult =
  | { messageId: string; status: "synced"; outcome: SyncOutcome }
  | { messageId: string; status: "fanout"; created: number; existing: number }
  | { messageId: string; status: "dead_lettered"; reason: string }
  | { messageId: string; status: "deferred" }
  | { messageId: string; status: "lifecycle"; detail: string }
  | { messageId: string; status: "retry"; error: string };

export interface BatchResult {
  batchItemFailures: { itemIdentifier: string }[];
  results: RecordResult[];
}

const DEFAULT_MIN_START_MS = 10_000;

/** Processes one batch in order. Never throws for one record (a SimulatedCrash from a test hook excepted). */
export async function processSyncBatch(
  deps: WorkerDeps,
  records: QueueRecord[],
  invocation: InvocationContext,
): Promise<BatchResult> {
  const results: RecordResult[] = [];
  for (const record of records) results.push(await processRecord(deps, record, invocation));
  return {
    batchItemFailures: results.filter((r) => r.status === "retry").map((r) => ({ itemIdentifier: r.messageId })),
    results,
  };
}

async function processRecord(
  deps: WorkerDeps,
  record: QueueRecord,
  invocation: InvocationContext,
): Promise<RecordResult> {
  const { messageId } = record;
  const log = deps.log.child({ messageId });
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
    const margin = deps.options?.timeMarginMs ?? DEFAULT_SYNC_OPTIONS.timeMarginMs;
    if (invocation.remainingMs() < margin + (deps.minStartMs ?? DEFAULT_MIN_START_MS)) {
      // Too little time left in this invocation to make progress: hand the message to a fresh one.
      const sent = await deps.queue.send([message]);
      if (sent.failed.length > 0) return { messageId, status: "retry", error: "could not defer the message" };
      return { messageId, status: "deferred" };
    }
    const outcome = await runSync(
      deps,
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

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
