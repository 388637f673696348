/**
 * What `npm run ops` does, against any target (the local stack, or a deployed stage with AWS credentials): the DLQ
 * (list, show, redrive, purge), one partition (show, resync, resume), the paused index's reindex, and one
 * tenant (show). Each command takes the target's clients and returns plain data; infra/ops/cli.ts parses arguments and
 * prints. docs/RUNBOOK.md says when to use which.
 */
import {
  DeleteMessageCommand,
  type Message,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { type Job, type Partition, pauseReasonSchema } from "../../shared/domain/entities.js";
import {
  connectionIdSchema,
  dataTypeSchema,
  integrationIdSchema,
  type PartitionRef,
  tenantIdSchema,
} from "../../shared/domain/ids.js";
import { type QueueMessage, queueMessageSchema } from "../../shared/domain/sync-message.js";
import { keys } from "../../shared/storage/keys.js";
import type { Repositories } from "../../shared/storage/ports.js";
import { TABLE_DEFINITION } from "../../shared/storage/table.js";

/** Where the commands act. */
export interface OpsTarget {
  repos: Repositories;
  sqs: SQSClient;
  queueUrl: string;
  dlqUrl: string;
  now: () => number;
  /** The table itself, for the one command that must Scan it (the paused-index reindex). */
  table: { doc: DynamoDBDocumentClient; tableName: string };
}

/** One dead letter as an operator reads it. */
export interface DeadLetter {
  messageId: string;
  sentAt: string | undefined;
  receiveCount: number;
  /** The worker's reason when it dead-lettered the message itself; absent for messages SQS redrove after 5 receives. */
  reason: string | undefined;
  /** What the body is: a valid sync/fan-out message (redrivable), or not. */
  valid: boolean;
  summary: string;
  body: string;
}

/** Longest a listing holds a message invisible; it is made visible again at once after reading. */
const PEEK_VISIBILITY_SECONDS = 30;

/**
 * Reads up to `max` dead letters without removing them. SQS has no peek: messages are received, then made visible
 * again by ending their visibility, so others (and the next listing) see them.
 */
export async function listDeadLetters(target: OpsTarget, max = 100): Promise<DeadLetter[]> {
  const { messages, release } = await receiveAll(target, max);
  await release(messages);
  return messages.map(toDeadLetter);
}

/** One dead letter by message ID, or undefined. */
export async function showDeadLetter(target: OpsTarget, messageId: string): Promise<DeadLetter | undefined> {
  const found = (await listDeadLetters(target, 1_000)).find((letter) => letter.messageId === messageId);
  return found;
}

export interface RedriveResult {
  redriven: string[];
  /** Not valid messages: they would only be dead-lettered again. Fix them at the sender, then purge. */
  skipped: { messageId: string; reason: string }[];
}

/**
 * Moves dead letters back to the sync queue: each valid message is sent to the queue, then deleted from the DLQ (a
 * crash in between leaves a duplicate, which the worker absorbs). Messages the worker dead-lettered itself have no
 * source queue, so SQS's own redrive (StartMessageMoveTask) cannot move them; this does, for any of them. With
 * `messageIds`, only those.
 */
export async function redriveDeadLetters(
  target: OpsTarget,
  options: { messageIds?: string[]; max?: number } = {},
): Promise<RedriveResult> {
  const wanted = options.messageIds === undefined ? undefined : new Set(options.messageIds);
  const { messages, release } = await receiveAll(target, options.max ?? 1_000);
  const result: RedriveResult = { redriven: [], skipped: [] };
  const untouched: Message[] = [];
  for (const message of messages) {
    const letter = toDeadLetter(message);
    if (wanted !== undefined && !wanted.has(letter.messageId)) {
      untouched.push(message);
      continue;
    }
    const parsed = parseMessage(letter.body);
    if (!parsed) {
      result.skipped.push({ messageId: letter.messageId, reason: letter.reason ?? "not a valid queue message" });
      untouched.push(message);
      continue;
    }
    await target.sqs.send(new SendMessageCommand({ QueueUrl: target.queueUrl, MessageBody: JSON.stringify(parsed) }));
    await target.sqs.send(new DeleteMessageCommand({ QueueUrl: target.dlqUrl, ReceiptHandle: message.ReceiptHandle }));
    result.redriven.push(letter.messageId);
  }
  await release(untouched);
  return result;
}

/** Deletes every message of the DLQ (SQS allows one purge a minute). */
export async function purgeDeadLetters(target: OpsTarget): Promise<void> {
  await target.sqs.send(new PurgeQueueCommand({ QueueUrl: target.dlqUrl }));
}

export interface PartitionReport {
  partition: Partition;
  /** Newest first. */
  recentJobs: Pick<
    Job,
    "jobId" | "status" | "trigger" | "mode" | "createdAt" | "completedAt" | "error" | "itemsFound" | "itemsCreated"
  >[];
}

/** A partition's state and its last jobs; undefined when it does not exist. */
export async function showPartition(
  target: OpsTarget,
  ref: PartitionRef,
  jobs = 5,
): Promise<PartitionReport | undefined> {
  const partition = await target.repos.partitions.get(ref);
  if (!partition) return undefined;
  const page = await target.repos.jobs.list(ref.tenantId, ref.integrationId, {
    connectionId: ref.connectionId,
    dataType: ref.dataType,
    limit: jobs,
  });
  return {
    partition,
    recentJobs: page.items.map(
      ({ jobId, status, trigger, mode, createdAt, completedAt, error, itemsFound, itemsCreated }) => ({
        jobId,
        status,
        trigger,
        mode,
        createdAt,
        completedAt,
        error,
        itemsFound,
        itemsCreated,
      }),
    ),
  };
}

/**
 * Queues a manual sync now (full unless told otherwise), as an on-demand message without a job: the worker claims the
 * partition and creates the job. A paused partition is refused by the worker: resume it first.
 */
export async function resyncPartition(
  target: OpsTarget,
  ref: PartitionRef,
  mode: "full" | "incremental" = "full",
): Promise<QueueMessage> {
  const message: QueueMessage = { v: 1, kind: "sync", ...ref, trigger: "manual", mode, force: true };
  const sent = await target.sqs.send(
    new SendMessageCommand({ QueueUrl: target.queueUrl, MessageBody: JSON.stringify(message) }),
  );
  if (!sent.MessageId) throw new Error("the queue did not accept the message");
  return message;
}

/** Resumes a paused (or failed) partition: idle, due now, back in the due index. The planner takes it next run. */
export async function resumePartition(target: OpsTarget, ref: PartitionRef): Promise<Partition | undefined> {
  await target.repos.partitions.resume(ref, target.now());
  return target.repos.partitions.get(ref);
}

export interface ReindexResult {
  /** Rows the Scan read (the whole table: no index holds the rows whose entry is missing or wrong). */
  scannedRows: number;
  /** Paused partitions without an entry, given one. */
  indexed: number;
  /** Paused partitions whose entry named another reason (or shard), given the right one. */
  repaired: number;
  /** Partitions no longer paused whose entry was left behind, the entry removed. */
  removed: number;
  /** Rows that needed one of those but changed between the Scan and the write: their own pause or resume set the entry. */
  skipped: number;
  /** Partition rows that did not parse, or paused for a reason this version does not know (left alone, named here). */
  malformed: string[];
}

const partitionRowSchema = z.object({
  tenantId: tenantIdSchema,
  integrationId: integrationIdSchema,
  connectionId: connectionIdSchema,
  dataType: dataTypeSchema,
  status: z.string(),
  pauseReason: z.string().optional(),
  GSI2PK: z.string().optional(),
  GSI2SK: z.string().optional(),
});

/**
 * Makes the paused index (GSI2) match the partitions: the PartitionsPaused gauge counts its entries. Entries go wrong
 * only while a version without the index writes beside one with it (the first deploy's canary, a rollback): old code
 * pausing leaves no entry, or the previous reason's; old code resuming, claiming or recording a sync leaves the entry
 * of a partition no longer paused. One filtered Scan of the whole table finds both kinds (paused rows, and rows with an
 * entry: it reads every row once, about 1 read unit per 8 KB), then one conditional write per row to fix, made only if
 * the row is still as the Scan saw it, so a pause or resume in between is never undone. Run it once no old code runs.
 */
export async function reindexPausedIndex(target: Pick<OpsTarget, "repos" | "table">): Promise<ReindexResult> {
  const { doc, tableName } = target.table;
  const { partitions } = target.repos;
  const { partitionKey: gsi2pk, sortKey: gsi2sk } = TABLE_DEFINITION.pausedIndex;
  const result: ReindexResult = { scannedRows: 0, indexed: 0, repaired: 0, removed: 0, skipped: 0, malformed: [] };
  const count = (written: boolean, done: "indexed" | "repaired" | "removed") => {
    result[written ? done : "skipped"]++;
  };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: "#entity = :partition AND (#status = :paused OR attribute_exists(#gsi2pk))",
        ExpressionAttributeNames: {
          "#entity": "entity",
          "#status": "status",
          "#gsi2pk": gsi2pk,
          "#gsi2sk": gsi2sk,
          "#t": "tenantId",
          "#i": "integrationId",
          "#c": "connectionId",
          "#d": "dataType",
          "#r": "pauseReason",
          "#sk": "SK",
        },
        ExpressionAttributeValues: { ":partition": "partition", ":paused": "paused" },
        ProjectionExpression: "#t, #i, #c, #d, #status, #r, #gsi2pk, #gsi2sk, #sk",
        ExclusiveStartKey: startKey,
      }),
    );
    result.scannedRows += page.ScannedCount ?? 0;
    for (const row of page.Items ?? []) {
      const parsed = partitionRowSchema.safeParse(row);
      const name = `${String(row.tenantId)} ${String(row.SK)}`;
      if (!parsed.success) {
        result.malformed.push(name);
        continue;
      }
      const { status, pauseReason, GSI2PK, GSI2SK, ...ref } = parsed.data;
      if (status !== "paused") {
        // The filter let it through for its entry, which a partition not paused must not have.
        if (GSI2SK !== undefined) count(await partitions.unindexPaused(ref, GSI2SK), "removed");
        continue;
      }
      const reason = pauseReasonSchema.safeParse(pauseReason);
      if (!reason.success) {
        result.malformed.push(name);
        continue;
      }
      const entry = keys.paused(ref, reason.data);
      if (GSI2PK === undefined) count(await partitions.indexPaused(ref, reason.data), "indexed");
      else if (GSI2PK !== entry.GSI2PK || GSI2SK !== entry.GSI2SK) {
        count(await partitions.indexPaused(ref, reason.data, GSI2SK), "repaired");
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return result;
}

export interface TenantReport {
  tenantId: string;
  apiKeys: { keyId: string; name: string; scopes: string[]; revoked: boolean }[];
  integrations: {
    integrationId: string;
    sources: number;
    connections: { connectionId: string; status: string }[];
    partitions: Record<string, number>;
    paused: { connectionId: string; dataType: string; reason: string | undefined; lastError: string | undefined }[];
    failing: { connectionId: string; dataType: string; consecutiveFailures: number; lastError: string | undefined }[];
  }[];
}

/**
 * A tenant at a glance: its API keys, and per named integration its sources, connections, partitions by status, the
 * paused ones with their reason and the failing ones with their last error. Integrations are named by the caller:
 * the table has no tenant-wide index of them, and an ops command does not Scan.
 */
export async function showTenant(target: OpsTarget, tenantId: string, integrationIds: string[]): Promise<TenantReport> {
  const keys = await target.repos.apiKeys.list(tenantId);
  const integrations = [];
  for (const integrationId of integrationIds) {
    const [sources, connections, partitions] = await Promise.all([
      target.repos.sources.list(tenantId, integrationId),
      target.repos.connections.list(tenantId, integrationId),
      target.repos.partitions.listByIntegration(tenantId, integrationId),
    ]);
    const byStatus: Record<string, number> = {};
    for (const partition of partitions) byStatus[partition.status] = (byStatus[partition.status] ?? 0) + 1;
    integrations.push({
      integrationId,
      sources: sources.length,
      connections: connections.map((c) => ({ connectionId: c.connectionId, status: c.status })),
      partitions: byStatus,
      paused: partitions
        .filter((p) => p.status === "paused")
        .map((p) => ({
          connectionId: p.connectionId,
          dataType: p.dataType,
          reason: p.pauseReason,
          lastError: p.lastError?.code,
        })),
      failing: partitions
        .filter((p) => p.consecutiveFailures > 0 && p.status !== "paused")
        .map((p) => ({
          connectionId: p.connectionId,
          dataType: p.dataType,
          consecutiveFailures: p.consecutiveFailures,
          lastError: p.lastError?.code,
        })),
    });
  }
  return {
    tenantId,
    apiKeys: keys.map((key) => ({
      keyId: key.keyId,
      name: key.name,
      scopes: [...key.scopes],
      revoked: key.revokedAt !== undefined,
    })),
    integrations,
  };
}

async function receiveAll(
  target: OpsTarget,
  max: number,
): Promise<{ messages: Message[]; release: (messages: Message[]) => Promise<void> }> {
  const seen = new Map<string, Message>();
  for (let round = 0; round < 100 && seen.size < max; round++) {
    const response = await target.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: target.dlqUrl,
        MaxNumberOfMessages: Math.min(10, max - seen.size),
        VisibilityTimeout: PEEK_VISIBILITY_SECONDS,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    const received = response.Messages ?? [];
    if (received.length === 0) break;
    for (const message of received) if (message.MessageId) seen.set(message.MessageId, message);
  }
  const release = async (messages: Message[]) => {
    const { ChangeMessageVisibilityCommand } = await import("@aws-sdk/client-sqs");
    for (const message of messages) {
      await target.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: target.dlqUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
  };
  return { messages: [...seen.values()], release };
}

function toDeadLetter(message: Message): DeadLetter {
  const body = message.Body ?? "";
  const parsed = parseMessage(body);
  const sent = Number(message.Attributes?.SentTimestamp);
  return {
    messageId: message.MessageId ?? "",
    sentAt: Number.isFinite(sent) ? new Date(sent).toISOString() : undefined,
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
    reason: message.MessageAttributes?.reason?.StringValue,
    valid: parsed !== undefined,
    summary: parsed ? summarize(parsed) : body.slice(0, 80),
    body,
  };
}

function parseMessage(body: string): QueueMessage | undefined {
  try {
    const parsed = queueMessageSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function summarize(message: QueueMessage): string {
  if (message.kind === "sync") {
    return `sync ${message.tenantId}/${message.integrationId}/${message.connectionId}/${message.dataType}${message.jobId ? ` job ${message.jobId}` : ""}`;
  }
  return `${message.kind} ${"tenantId" in message ? message.tenantId : ""}`;
}
