/**
 * Settling jobs left behind by a crash, so none stays `pending` or `syncing` forever. Both copy onto the job what the
 * partition already recorded (and announce it, at least once); neither touches the partition.
 */
import { iso } from "../domain/clock.js";
import type { Job, JobError, Partition } from "../domain/entities.js";
import { ConflictError, JOB_ERROR, NotFoundError } from "../domain/errors.js";
import type { PartitionRef } from "../domain/ids.js";
import type { Logger } from "../log.js";
import { announceCommit, announceFailure } from "./announce.js";
import { announceDeps, type SyncEngineDeps } from "./engine.js";

/**
 * A message whose job cannot take the lease: if the partition already recorded this job's outcome (a crash between the
 * partition commit and the job update), copy it onto the job; if the partition moved on to another job, the job was
 * superseded. A job the partition still points at belongs to a live worker and is left alone.
 */
export async function settleOrphanedJob(deps: SyncEngineDeps, ref: PartitionRef, job: Job, log: Logger): Promise<void> {
  const partition = await deps.repos.partitions.get(ref);
  if (partition?.currentJobId === job.jobId) return;
  const recorded = partition?.lastJobId === job.jobId;
  try {
    if (recorded && partition.lastJobStatus === "completed") {
      // The partition recorded this job's outcome but a crash came before the job did: announce it now (at least once).
      await announceCommit(announceDeps(deps), ref, job, partition, undefined);
      await deps.repos.jobs.update(
        ref.tenantId,
        ref.integrationId,
        job.jobId,
        { status: "completed", completedAt: iso(deps.clock.now()) },
        { expectStatus: ["pending", "syncing"], removeCheckpoint: true },
      );
      return;
    }
    let error: JobError;
    if (recorded && partition.lastError) {
      error = partition.lastError;
      const pause = partition.status === "paused" ? partition.pauseReason : undefined;
      await announceFailure(announceDeps(deps), { ...job, error }, pause);
    } else if (partition?.status === "paused") {
      error = {
        code: JOB_ERROR.partitionPaused,
        message: `the partition was paused (${partition.pauseReason ?? "manual"})`,
      };
    } else if (partition) {
      error = { code: JOB_ERROR.superseded, message: "the partition moved on to another job before this one ran" };
    } else {
      error = { code: JOB_ERROR.partitionNotFound, message: "the partition no longer exists" };
    }
    await deps.repos.jobs.failIfOpen(ref.tenantId, ref.integrationId, job.jobId, error, deps.clock.now(), {
      removeCheckpoint: true,
    });
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError) return;
    log.warn("could not settle a stale job", { jobId: job.jobId, error });
  }
}

/**
 * A worker that died between the partition's commit and its job's completion, with its message lost, left that job
 * `syncing` although the partition recorded it as completed: the next sync of the partition settles it. A read first,
 * so the usual case (the job did complete) costs no write.
 */
export async function settlePreviousJob(
  deps: SyncEngineDeps,
  ref: PartitionRef,
  partition: Partition,
  jobId: string,
  log: Logger,
): Promise<void> {
  const previous = partition.lastJobId;
  if (!previous || previous === jobId || partition.lastJobStatus !== "completed") return;
  try {
    const job = await deps.repos.jobs.get(ref.tenantId, ref.integrationId, previous);
    if (job?.status !== "pending" && job?.status !== "syncing") return;
    await announceCommit(announceDeps(deps), ref, job, partition, undefined);
    await deps.repos.jobs.update(
      ref.tenantId,
      ref.integrationId,
      previous,
      { status: "completed", completedAt: partition.lastSyncedAt ?? iso(deps.clock.now()) },
      { expectStatus: ["pending", "syncing"], removeCheckpoint: true },
    );
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError) return;
    log.warn("could not settle the previous job", { jobId: previous, error });
  }
}
