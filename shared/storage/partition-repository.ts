/**
 * Partition state: scheduling, leasing and the last outcome, one row per partition. Every transition is one
 * conditional UpdateItem, so two planners, two workers, or a worker and the API never both win.
 *
 * The due index (GSI1) is sparse: idle and failed partitions sit at nextSyncAt, queued ones at their requeue deadline,
 * syncing ones at their lease expiry, so a lost message or a dead worker brings the partition back by itself. Paused
 * partitions carry no GSI1 attributes (until their purge is scheduled) and are in the paused index (GSI2) instead,
 * which the planner counts by reason: `setStatus` is the one place that enters or leaves it.
 *
 * Longer than most files, on purpose: every transition's condition is written against the others' (who may move a
 * partition from which status, with which lease), and keeping them side by side is what lets a reader check that no
 * two can both succeed.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { iso } from "../domain/clock.js";
import { ClaimRefusedError, ConflictError, NotFoundError, ValidationError } from "../domain/errors.js";
import {
  claimRefusal,
  type Partition,
  type PartitionRef,
  type PartitionStatus,
  type PauseReason,
  partitionSchema,
  partitionStatusSchema,
  pauseReasonSchema,
} from "../domain/index.js";
import { parseOrThrow } from "../domain/validate.js";
import { isConditionFailed } from "./ddb.js";
import { duePk, integrationPk, keys, partitionRefFromDueSk, pausedPk, pauseReasonFromPausedSk } from "./keys.js";
import type {
  ClaimInput,
  DueEntry,
  FailureInput,
  LeaseInput,
  Page,
  PageKey,
  PartitionRepository,
  SuccessInput,
} from "./ports.js";
import { checkLimit, checkStartKey, parseRow, type Row, UpdateBuilder } from "./rows.js";
import { TABLE_DEFINITION } from "./table.js";

/** Pause reasons that `ensure` lifts: the cause (source config, source, connection) was just fixed by the caller. */
export const RESUMABLE_BY_ENSURE: readonly PauseReason[] = ["config", "source_deleted", "revoked"];

const partitionStatusRowSchema = z.object({ status: partitionStatusSchema });

/** Sorts after every character an ID may hold, so `{iso}#~` bounds every due key at exactly `iso`. */
const DUE_SK_UPPER = "#~";

const LEASE_FIELDS = ["leaseOwner", "currentJobId", "deadlineAt"] as const;

const { dueIndex, pausedIndex } = TABLE_DEFINITION;

/**
 * The status a transition sets, and what goes with it: `paused` carries its reason and a paused-index entry (GSI2,
 * the planner's PartitionsPaused gauge); every other status carries neither reason nor paused-index entry. Every
 * status write goes through here, so no transition can leave a stale entry behind. (Pausing also leaves the due index:
 * the callers say so, since a paused partition may be given a purge entry there later.) Only a version without the
 * index, running beside this one during a deploy, leaves entries wrong; `indexPaused`/`unindexPaused` put them right.
 */
function setStatus(update: UpdateBuilder, ref: PartitionRef, status: Exclude<PartitionStatus, "paused">): UpdateBuilder;
function setStatus(update: UpdateBuilder, ref: PartitionRef, status: "paused", reason: PauseReason): UpdateBuilder;
function setStatus(
  update: UpdateBuilder,
  ref: PartitionRef,
  status: PartitionStatus,
  reason?: PauseReason,
): UpdateBuilder {
  if (status !== "paused") {
    return update.set("status", status).remove("pauseReason", pausedIndex.partitionKey, pausedIndex.sortKey);
  }
  const pauseReason = parseOrThrow(pauseReasonSchema, reason, "pause reason", "reason");
  return update.setAll({ status, pauseReason, ...keys.paused(ref, pauseReason) });
}

export class DynamoPartitionRepository implements PartitionRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(
    ref: PartitionRef,
    input: { syncType: "list" | "object"; now: number; dueAt?: number },
  ): Promise<Partition> {
    const now = iso(input.now);
    const nextSyncAt = iso(input.dueAt ?? input.now);
    const partition: Partition = {
      ...refOf(ref),
      status: "idle",
      syncType: input.syncType,
      version: 0,
      manifestChunks: 0,
      objectChunks: 0,
      itemCount: 0,
      nextSyncAt,
      consecutiveFailures: 0,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.partition(ref), ...keys.due(ref, nextSyncAt), entity: "partition", ...partition },
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) throw new ConflictError("Partition already exists", { ...refOf(ref) });
      throw error;
    }
    return partition;
  }

  /**
   * Creates the partition, or, when it exists paused for a reason in `resumeReasons` (default RESUMABLE_BY_ENSURE),
   * resumes it due now. Anything else that exists is left alone.
   */
  async ensure(
    ref: PartitionRef,
    input: { syncType: "list" | "object"; now: number; resumeReasons?: readonly PauseReason[] },
  ): Promise<{ created: boolean }> {
    try {
      await this.create(ref, input);
      return { created: true };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
    const reasons = input.resumeReasons ?? RESUMABLE_BY_ENSURE;
    if (reasons.length === 0) return { created: false };
    const update = this.resumeUpdate(ref, input.now).set("syncType", input.syncType);
    const reasonList = reasons.map((reason) => update.v(reason)).join(", ");
    try {
      await this.send(
        update,
        ref,
        `${update.n("status")} = ${update.v("paused")} AND ${update.n("pauseReason")} IN (${reasonList})`,
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    return { created: false };
  }

  async get(ref: PartitionRef): Promise<Partition | undefined> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.partition(ref), ConsistentRead: true }),
    );
    return result.Item ? parseRow(partitionSchema, result.Item, "partition") : undefined;
  }

  async listByIntegration(
    tenantId: string,
    integrationId: string,
    filter: { connectionId?: string; dataType?: string } = {},
  ): Promise<Partition[]> {
    const pk = integrationPk(tenantId, integrationId);
    const prefix = keys.partitionPrefix(filter.connectionId);
    const partitions: Partition[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
          ExpressionAttributeValues: { ":pk": pk, ":prefix": prefix },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const row of page.Items ?? []) {
        const partition = parseRow(partitionSchema, row, "partition");
        if (filter.dataType === undefined || partition.dataType === filter.dataType) partitions.push(partition);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return partitions;
  }

  async queryDue(
    shard: number,
    untilIso: string,
    page: { limit: number; startKey?: PageKey },
  ): Promise<Page<DueEntry>> {
    const pk = duePk(checkShard(shard));
    const startKey = checkStartKey(page.startKey, { GSI1PK: pk }, ["GSI1SK", "PK", "SK"]);
    const result = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: dueIndex.name,
        KeyConditionExpression: "GSI1PK = :pk AND GSI1SK <= :until",
        ExpressionAttributeValues: { ":pk": pk, ":until": `${untilIso}${DUE_SK_UPPER}` },
        ExpressionAttributeNames: { "#status": "status" },
        ProjectionExpression: "PK, SK, GSI1PK, GSI1SK, #status, currentJobId",
        Limit: checkLimit(page.limit),
        ScanIndexForward: true,
        ExclusiveStartKey: startKey,
      }),
    );
    const items = ((result.Items ?? []) as Row[]).map((row): DueEntry => {
      const dueSk = String(row.GSI1SK);
      const entry: DueEntry = {
        ref: partitionRefFromDueSk(dueSk),
        status: parseRow(partitionStatusRowSchema, row, "due entry").status,
        dueSk,
        dueAt: dueSk.slice(0, dueSk.indexOf("#")),
      };
      if (typeof row.currentJobId === "string") entry.currentJobId = row.currentJobId;
      return entry;
    });
    return result.LastEvaluatedKey ? { items, nextKey: result.LastEvaluatedKey } : { items };
  }

  async countPaused(shard: number): Promise<Map<string, number>> {
    const pk = pausedPk(checkShard(shard));
    const counts = new Map<string, number>();
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: pausedIndex.name,
          KeyConditionExpression: "#pk = :pk",
          ExpressionAttributeNames: { "#pk": pausedIndex.partitionKey, "#sk": pausedIndex.sortKey },
          ExpressionAttributeValues: { ":pk": pk },
          ProjectionExpression: "#sk",
          ExclusiveStartKey: startKey,
        }),
      );
      for (const row of (page.Items ?? []) as Row[]) {
        const reason = pauseReasonFromPausedSk(String(row[pausedIndex.sortKey]));
        counts.set(reason, (counts.get(reason) ?? 0) + 1);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return counts;
  }

  async claim(ref: PartitionRef, input: ClaimInput): Promise<Partition> {
    const deadline = iso(input.requeueDeadline);
    const now = iso(input.now);
    const update = setStatus(new UpdateBuilder(), ref, "queued")
      .setAll({ currentJobId: input.jobId, deadlineAt: deadline, updatedAt: now })
      .setAll(keys.due(ref, deadline))
      .remove("leaseOwner");
    // What this claim replaced, read by the claim itself (operands see the item before the update): a take-over is
    // decided from these, never from an earlier read that may be stale by the time the claim lands.
    update.setExpression("claimedFromStatus", update.n("status"));
    update.setExpression("claimedFromJobId", `if_not_exists(${update.n("currentJobId")}, ${update.v("")})`);
    const conditions: string[] = [];
    if (input.expectedDueSk !== undefined) {
      conditions.push(`${update.n("GSI1SK")} = ${update.v(input.expectedDueSk)}`);
    } else {
      const s = update.n("status");
      conditions.push(
        `attribute_exists(PK) AND (${s} IN (${update.v("idle")}, ${update.v("failed")}) OR ` +
          `(${s} IN (${update.v("queued")}, ${update.v("syncing")}) AND ${update.n("deadlineAt")} < ${update.v(now)}))`,
      );
    }
    if (input.manualMinIntervalMs !== undefined) {
      const cutoff = iso(input.now - input.manualMinIntervalMs);
      const last = update.n("lastManualTriggerAt");
      conditions.push(`(attribute_not_exists(${last}) OR ${last} < ${update.v(cutoff)})`);
      update.set("lastManualTriggerAt", now);
    }
    try {
      return await this.send(update, ref, conditions.join(" AND "));
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    // Only the losing path pays for this read: it tells the caller why (in flight, throttled, paused, or gone).
    const current = await this.get(ref);
    if (!current) throw new NotFoundError("Partition not found", { ...refOf(ref) });
    const refusal = claimRefusal(current, input.now, input.manualMinIntervalMs) ?? { reason: "not_due" };
    const details: Record<string, unknown> = { ...refOf(ref), status: current.status, ...refusal };
    if (current.currentJobId) details.currentJobId = current.currentJobId;
    throw new ClaimRefusedError(refusal, details);
  }

  async acquireLease(ref: PartitionRef, input: LeaseInput): Promise<Partition> {
    const deadline = iso(input.now + input.leaseMs);
    const update = setStatus(new UpdateBuilder(), ref, "syncing")
      .setAll({ leaseOwner: input.owner, deadlineAt: deadline, updatedAt: iso(input.now) })
      .setAll(keys.due(ref, deadline));
    const s = update.n("status");
    const condition =
      `${update.n("currentJobId")} = ${update.v(input.jobId)} AND (${s} = ${update.v("queued")} OR ` +
      `(${s} = ${update.v("syncing")} AND (${update.n("leaseOwner")} = ${update.v(input.owner)} OR ` +
      `${update.n("deadlineAt")} < ${update.v(iso(input.now))})))`;
    return this.conditional(update, ref, condition, "Lease not acquired: another worker holds it or the job is stale");
  }

  async renewLease(ref: PartitionRef, input: LeaseInput): Promise<void> {
    const deadline = iso(input.now + input.leaseMs);
    const update = new UpdateBuilder()
      .setAll({ deadlineAt: deadline, updatedAt: iso(input.now) })
      .setAll(keys.due(ref, deadline));
    await this.conditional(update, ref, this.leaseHeld(update, input), "Lease lost");
  }

  async requeue(
    ref: PartitionRef,
    input: { jobId: string; owner: string; now: number; deadline: number },
  ): Promise<void> {
    const deadline = iso(input.deadline);
    const update = setStatus(new UpdateBuilder(), ref, "queued")
      .setAll({ deadlineAt: deadline, updatedAt: iso(input.now) })
      .setAll(keys.due(ref, deadline))
      .remove("leaseOwner");
    await this.conditional(update, ref, this.leaseHeld(update, input), "Cannot requeue: lease lost");
  }

  async recordSuccess(ref: PartitionRef, input: SuccessInput): Promise<Partition> {
    const nextSyncAt = iso(input.nextSyncAt);
    const now = iso(input.now);
    const update = setStatus(new UpdateBuilder(), ref, "idle")
      .setAll({
        version: input.version,
        manifestChunks: input.manifestChunks,
        objectChunks: input.objectChunks,
        itemCount: input.itemCount,
        totalCount: input.totalCount ?? input.itemCount,
        nextSyncAt,
        lastSyncedAt: now,
        lastSyncStartedAt: iso(input.startedAt),
        // The start, not the end: a change made while a full sync ran may have been missed by it.
        lastFullSyncAt: input.full ? iso(input.startedAt) : undefined,
        consecutiveFailures: 0,
        lastJobId: input.jobId,
        lastJobStatus: "completed",
        updatedAt: now,
        // The change feed: which job's staged changes this version holds (kept when a sync changes nothing).
        ...(input.dataJobId === undefined ? {} : { dataJobId: input.dataJobId }),
        // Recorded under the lease, with the version it serves: a snapshot written by anyone else is never served.
        snapshotId: input.snapshotId,
      })
      .setAll(keys.due(ref, nextSyncAt))
      .remove("lastError", ...LEASE_FIELDS, ...(input.snapshotId === undefined ? ["snapshotId"] : []));
    return this.conditional(update, ref, this.leaseHeld(update, input), "Cannot record success: lease lost");
  }

  async recordFailure(ref: PartitionRef, input: FailureInput): Promise<Partition> {
    const now = iso(input.now);
    const update = new UpdateBuilder()
      .setAll({
        lastError: input.error,
        lastJobId: input.jobId,
        lastJobStatus: "failed",
        sourceRevision: input.sourceRevision,
        updatedAt: now,
      })
      .remove(...LEASE_FIELDS);
    if (input.pause !== undefined) {
      setStatus(update, ref, "paused", input.pause).remove(dueIndex.partitionKey, dueIndex.sortKey);
    } else {
      const nextSyncAt = iso(input.nextSyncAt);
      const failures = update.n("consecutiveFailures");
      setStatus(update, ref, "failed")
        .set("nextSyncAt", nextSyncAt)
        .setAll(keys.due(ref, nextSyncAt))
        .setExpression("consecutiveFailures", `if_not_exists(${failures}, ${update.v(0)}) + ${update.v(1)}`);
    }
    return this.conditional(update, ref, this.leaseHeld(update, input), "Cannot record failure: lease lost");
  }

  async pause(ref: PartitionRef, reason: PauseReason, now: number): Promise<void> {
    const pauseUpdate = () =>
      setStatus(new UpdateBuilder(), ref, "paused", reason)
        .set("updatedAt", iso(now))
        .remove(dueIndex.partitionKey, dueIndex.sortKey, ...LEASE_FIELDS);
    // A sync cut off by the pause may have written rows it never committed: recording its job as the last, failed
    // one makes the next sync read the rows back before diffing (the worker reconciles after a failed job).
    const cutOff = pauseUpdate();
    cutOff.set("lastJobStatus", "failed").setExpression("lastJobId", cutOff.n("currentJobId"));
    try {
      await this.send(cutOff, ref, `attribute_exists(${cutOff.n("currentJobId")})`);
      return;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    await this.mustExist(pauseUpdate(), ref);
  }

  /**
   * → idle, due now. A queued or syncing partition is left as it is: it is already about to sync, and taking its
   * state would break the worker's lease.
   */
  async resume(ref: PartitionRef, now: number): Promise<void> {
    const update = this.resumeUpdate(ref, now);
    const s = update.n("status");
    try {
      await this.send(
        update,
        ref,
        `attribute_exists(PK) AND NOT ${s} IN (${update.v("queued")}, ${update.v("syncing")})`,
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      if (!(await this.get(ref))) throw new NotFoundError("Partition not found", { ...refOf(ref) });
    }
  }

  async indexPaused(ref: PartitionRef, reason: PauseReason, seenEntry?: string): Promise<boolean> {
    const update = setStatus(new UpdateBuilder(), ref, "paused", reason);
    const entry =
      seenEntry === undefined
        ? `attribute_not_exists(${update.n(pausedIndex.partitionKey)})`
        : `${update.n(pausedIndex.sortKey)} = ${update.v(seenEntry)}`;
    const condition = `${update.n("status")} = ${update.v("paused")} AND ${update.n("pauseReason")} = ${update.v(reason)} AND ${entry}`;
    return this.sendIfStill(update, ref, condition);
  }

  async unindexPaused(ref: PartitionRef, seenEntry: string): Promise<boolean> {
    const update = new UpdateBuilder().remove(pausedIndex.partitionKey, pausedIndex.sortKey);
    const condition = `${update.n(pausedIndex.sortKey)} = ${update.v(seenEntry)} AND ${update.n("status")} <> ${update.v("paused")}`;
    return this.sendIfStill(update, ref, condition);
  }

  /** One conditional write; false when the row is no longer as the condition says. */
  private async sendIfStill(update: UpdateBuilder, ref: PartitionRef, condition: string): Promise<boolean> {
    try {
      await this.send(update, ref, condition);
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  async reschedule(ref: PartitionRef, nextSyncAt: number, now: number): Promise<boolean> {
    const at = iso(nextSyncAt);
    const update = new UpdateBuilder().setAll({ nextSyncAt: at, updatedAt: iso(now) }).setAll(keys.due(ref, at));
    const s = update.n("status");
    return this.sendIfStill(
      update,
      ref,
      `attribute_exists(PK) AND ${s} IN (${update.v("idle")}, ${update.v("failed")})`,
    );
  }

  async schedulePurge(ref: PartitionRef, purgeAt: number, expectedDueSk?: string): Promise<boolean> {
    const update = new UpdateBuilder().setAll(keys.due(ref, iso(purgeAt)));
    const conditions = [
      `${update.n("status")} = ${update.v("paused")}`,
      `${update.n("pauseReason")} IN (${update.v("revoked")}, ${update.v("source_deleted")})`,
    ];
    if (expectedDueSk !== undefined) conditions.push(`${update.n("GSI1SK")} = ${update.v(expectedDueSk)}`);
    return this.sendIfStill(update, ref, conditions.join(" AND "));
  }

  async delete(ref: PartitionRef): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: keys.partition(ref) }));
  }

  private resumeUpdate(ref: PartitionRef, now: number): UpdateBuilder {
    const at = iso(now);
    return setStatus(new UpdateBuilder(), ref, "idle")
      .setAll({ nextSyncAt: at, updatedAt: at })
      .setAll(keys.due(ref, at))
      .remove(...LEASE_FIELDS);
  }

  private leaseHeld(update: UpdateBuilder, input: { owner: string; jobId: string }): string {
    return (
      `${update.n("leaseOwner")} = ${update.v(input.owner)} AND ` +
      `${update.n("currentJobId")} = ${update.v(input.jobId)}`
    );
  }

  private async send(update: UpdateBuilder, ref: PartitionRef, condition: string): Promise<Partition> {
    const result = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.partition(ref),
        UpdateExpression: update.updateExpression,
        ConditionExpression: condition,
        ReturnValues: "ALL_NEW",
        ...update.attributes,
      }),
    );
    return parseRow(partitionSchema, result.Attributes ?? {}, "partition");
  }

  private async conditional(
    update: UpdateBuilder,
    ref: PartitionRef,
    condition: string,
    message: string,
  ): Promise<Partition> {
    try {
      return await this.send(update, ref, condition);
    } catch (error) {
      if (isConditionFailed(error)) throw new ConflictError(message, { ...refOf(ref) });
      throw error;
    }
  }

  private async mustExist(update: UpdateBuilder, ref: PartitionRef): Promise<Partition> {
    try {
      return await this.send(update, ref, "attribute_exists(PK)");
    } catch (error) {
      if (isConditionFailed(error)) throw new NotFoundError("Partition not found", { ...refOf(ref) });
      throw error;
    }
  }
}

/** The shard, when it is one of the due (and paused) index's shards; ValidationError otherwise. */
function checkShard(shard: number): number {
  if (!Number.isInteger(shard) || shard < 0 || shard >= TABLE_DEFINITION.dueShards) {
    throw new ValidationError(`shard must be an integer in 0..${TABLE_DEFINITION.dueShards - 1}`, { field: "shard" });
  }
  return shard;
}

function refOf(ref: PartitionRef): PartitionRef {
  return {
    tenantId: ref.tenantId,
    integrationId: ref.integrationId,
    connectionId: ref.connectionId,
    dataType: ref.dataType,
  };
}
