/**
 * The sync of one partition for one queue message (DESIGN.md "Sync flow" 2), the engine's entry: open the message's job
 * (claim the partition for a message without one, adopt a job whose claim outran its write), take the lease, and run a
 * session (./session.ts) of a list sync (./list-sync.ts) or an object sync (./object-sync.ts): it pages through the
 * gateway action, writes only what changed, and either commits or saves a checkpoint and hands over to a continuation
 * message when the invocation runs short. Vocabulary and options: ./engine.ts.
 *
 * Crash safety comes from the order of writes, never from transactions:
 * - item rows are written before anything refers to them, and hold upstream-current versions;
 * - the checkpoint is saved before the job points at it, and the job before the partition is requeued;
 * - the counts land on the job, then the new manifest under a new version, then the partition flips its version, then
 *   the job completes. A crash anywhere leaves either the old committed state or the new one, and a redelivery or the
 *   due index resumes the sync. Counts are computed against the committed manifest, so a resumed or repeated sync
 *   reports what a clean run would.
 * - A failed or partial sync never changes an item's status and never writes the manifest.
 */

import type { Job, Partition } from "../domain/entities.js";
import { ConflictError, NotFoundError } from "../domain/errors.js";
import type { PartitionRef } from "../domain/ids.js";
import type { SyncMessage } from "../domain/sync-message.js";
import { ulid } from "../domain/ulid.js";
import type { Logger } from "../log.js";
import { claimPartition, describeRefusal } from "./claims.js";
import { leaseSafetyMs } from "./durations.js";
import {
  DEFAULT_SYNC_OPTIONS,
  type InvocationContext,
  type SyncEngineDeps,
  type SyncEngineOptions,
  type SyncOutcome,
} from "./engine.js";
import { holdLease } from "./lease.js";
import { ListSync } from "./list-sync.js";
import { ObjectSync } from "./object-sync.js";
import { SyncSession } from "./session.js";
import { settleOrphanedJob, settlePreviousJob } from "./settle-jobs.js";

export {
  DEFAULT_SYNC_OPTIONS,
  type InvocationContext,
  type JobCounts,
  SimulatedCrash,
  type SyncEngineDeps,
  type SyncEngineOptions,
  type SyncHooks,
  type SyncOutcome,
} from "./engine.js";
export { mergeObjectPages } from "./object-sync.js";

/**
 * Runs (or continues) the sync a message asks for. Returns its outcome; throws only for transient failures (DynamoDB
 * throttling, network), after releasing the lease, so the caller reports the message for redelivery.
 */
export async function runSync(
  deps: SyncEngineDeps,
  message: SyncMessage,
  invocation: InvocationContext,
  meta: { sentAt?: number } = {},
): Promise<SyncOutcome> {
  const options = { ...DEFAULT_SYNC_OPTIONS, ...deps.options };
  const { repos, clock } = deps;
  const ref: PartitionRef = {
    tenantId: message.tenantId,
    integrationId: message.integrationId,
    connectionId: message.connectionId,
    dataType: message.dataType,
  };
  const log = deps.log.child({
    tenantId: ref.tenantId,
    integrationId: ref.integrationId,
    connectionId: ref.connectionId,
    dataType: ref.dataType,
  });

  let job: Job | undefined;
  let reconcile = message.reconcile === true;
  if (message.jobId === undefined) {
    const claimed = await claimForJoblessMessage(deps, options, ref, message, meta, log);
    if ("status" in claimed) return claimed;
    job = claimed.job;
    reconcile ||= claimed.reconcile;
  } else {
    job = await repos.jobs.get(ref.tenantId, ref.integrationId, message.jobId);
    if (!job) {
      // The planner (or the API) claimed the partition but crashed before writing the job: adopt it.
      const partition = await repos.partitions.get(ref);
      if (partition?.currentJobId !== message.jobId) {
        return { status: "skipped", reason: "unknown job: the partition has moved on", jobId: message.jobId };
      }
      job = await adoptJob(deps, ref, message.jobId, message, clock.now());
    }
  }
  const jobId = job.jobId;
  if (job.connectionId !== ref.connectionId || job.dataType !== ref.dataType) {
    return { status: "rejected", reason: `job ${jobId} belongs to another partition` };
  }
  if (job.status === "completed" || job.status === "failed") {
    return { status: "skipped", reason: `duplicate delivery: job already ${job.status}`, jobId };
  }

  const owner = invocation.invocationId;
  const acquiredAt = clock.now();
  let partition: Partition;
  try {
    partition = await repos.partitions.acquireLease(ref, { jobId, owner, now: acquiredAt, leaseMs: options.leaseMs });
  } catch (error) {
    if (!(error instanceof ConflictError || error instanceof NotFoundError)) throw error;
    // Another worker holds the lease, or the job was superseded: nothing is lost, the due index brings the partition
    // back if that worker dies. A job left behind by a crash is settled so it does not stay "syncing" forever.
    await settleOrphanedJob(deps, ref, job, log);
    return { status: "skipped", reason: "the partition is leased by another worker or belongs to another job", jobId };
  }

  await settlePreviousJob(deps, ref, partition, jobId, log);

  const lease = holdLease(repos.partitions, ref, acquiredAt, {
    jobId,
    owner,
    leaseMs: options.leaseMs,
    heartbeatMs: options.heartbeatMs,
    safetyMs: leaseSafetyMs(options.leaseMs),
    clock,
    log,
  });
  const session = new SyncSession(deps, options, message, ref, job, partition, lease, invocation, reconcile, log);
  try {
    return await session.run((config) =>
      config.syncType === "object" ? new ObjectSync(session) : new ListSync(session),
    );
  } finally {
    await lease.stop();
  }
}

interface Claimed {
  job: Job;
  reconcile: boolean;
}

/** A message without a jobId (another service's on-demand sync): claim the partition and create its job. */
async function claimForJoblessMessage(
  deps: SyncEngineDeps,
  options: SyncEngineOptions,
  ref: PartitionRef,
  message: SyncMessage,
  meta: { sentAt?: number },
  log: Logger,
): Promise<Claimed | SyncOutcome> {
  const { repos, clock } = deps;
  let partition = await repos.partitions.get(ref);
  if (!partition) {
    const [source, connection] = await Promise.all([
      repos.sources.get(ref.tenantId, ref.integrationId, ref.dataType),
      repos.connections.get(ref.tenantId, ref.integrationId, ref.connectionId),
    ]);
    if (!source?.referenceData.syncable || connection?.status !== "active") {
      return {
        status: "rejected",
        reason: "no such partition: the source is not configured or syncable, or the connection is not enrolled",
      };
    }
    await repos.partitions.ensure(ref, { syncType: source.referenceData.syncType, now: clock.now() });
    partition = await repos.partitions.get(ref);
    if (!partition) return { status: "rejected", reason: "the partition could not be created" };
  }
  const now = clock.now();
  // Twenty copies of one request need one sync: a sync that started after this message was sent already covers it.
  if (meta.sentAt !== undefined) {
    const covering = message.mode === "full" ? partition.lastFullSyncAt : partition.lastSyncStartedAt;
    if (covering !== undefined && Date.parse(covering) >= meta.sentAt) {
      return { status: "skipped", reason: "a sync started after this message was sent" };
    }
  }
  const jobId = ulid(now);
  const claim = await claimPartition({ repos, log }, ref, {
    jobId,
    now,
    requeueDeadline: now + options.requeueWindowMs,
  });
  if (!claim.claimed) return { status: "skipped", reason: describeRefusal(claim.refusal) };
  const { reconcile } = claim;
  const job = await adoptJob(deps, ref, jobId, message, now);
  return { job, reconcile };
}

/** Writes the job its claim chose an id for (or returns it when it already exists). */
async function adoptJob(
  deps: SyncEngineDeps,
  ref: PartitionRef,
  jobId: string,
  message: SyncMessage,
  now: number,
): Promise<Job> {
  try {
    return await deps.repos.jobs.create({ ref, jobId, trigger: message.trigger, mode: message.mode ?? "full", now });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const existing = await deps.repos.jobs.get(ref.tenantId, ref.integrationId, jobId);
    if (!existing) throw error;
    return existing;
  }
}
