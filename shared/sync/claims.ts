/**
 * Claiming a partition for a job (DESIGN.md "Sync flow" 1), the one rule the planner, the trigger and the worker (a
 * message without a jobId) all follow: one conditional write puts the partition `queued` for the new job. It returns
 * the claimed partition, or a typed refusal that is the repository's own diagnosis of why the write lost (in flight,
 * throttled, paused, not due, gone); no caller re-derives it.
 *
 * A claim may take over from a job whose worker died (lease expired) or whose message was lost (requeue window
 * passed). The claim itself records what it replaced (`takenOverJobId`), so the decision never rests on an earlier,
 * possibly stale read: the old job is failed here, and the new one is told to reconcile (read back the rows the dead
 * job may have written and never committed) unless the caller knows that job never started.
 */
import type { ClaimRefusal, Job, Partition } from "../domain/entities.js";
import { takenOverJobId } from "../domain/entities.js";
import { ClaimRefusedError, JOB_ERROR, NotFoundError } from "../domain/errors.js";
import type { PartitionRef } from "../domain/ids.js";
import type { Logger } from "../log.js";
import type { Repositories } from "../storage/ports.js";

export type { ClaimRefusal } from "../domain/entities.js";

export interface ClaimDeps {
  repos: Pick<Repositories, "partitions" | "jobs">;
  log: Logger;
}

export interface ClaimRequest {
  /** The new job's id. */
  jobId: string;
  now: number;
  /** When a claim whose message is lost comes back through the due index. */
  requeueDeadline: number;
  /** Planner: claim only on the exact due-index key it saw. */
  expectedDueSk?: string;
  /** Manual trigger: at most one claim per this interval, stamped on the partition. */
  manualMinIntervalMs?: number;
  /** The partition's current job as the caller read it before claiming, when it did (the planner does). */
  previousJob?: Job;
}

export type Claim =
  | {
      claimed: true;
      partition: Partition;
      /** The job this claim took over (now failed), if any. */
      takenOverJobId?: string;
      /** The new job must read back rows an earlier job may have left uncommitted. */
      reconcile: boolean;
    }
  | { claimed: false; refusal: ClaimRefusal };

/** Claims `ref` for `request.jobId`: the partition, or why not. Throws only for transient failures. */
export async function claimPartition(deps: ClaimDeps, ref: PartitionRef, request: ClaimRequest): Promise<Claim> {
  let partition: Partition;
  try {
    partition = await deps.repos.partitions.claim(ref, {
      jobId: request.jobId,
      now: request.now,
      requeueDeadline: request.requeueDeadline,
      ...(request.expectedDueSk === undefined ? {} : { expectedDueSk: request.expectedDueSk }),
      ...(request.manualMinIntervalMs === undefined ? {} : { manualMinIntervalMs: request.manualMinIntervalMs }),
    });
  } catch (error) {
    if (error instanceof ClaimRefusedError) return { claimed: false, refusal: error.refusal };
    if (error instanceof NotFoundError) return { claimed: false, refusal: { reason: "gone" } };
    throw error;
  }
  const superseded = takenOverJobId(partition);
  // The same job claimed again (the planner resuming it from its checkpoint) takes over nothing.
  if (superseded === undefined || superseded === request.jobId) return { claimed: true, partition, reconcile: false };

  const leaseExpired = partition.claimedFromStatus === "syncing";
  await deps.repos.jobs
    .failIfOpen(
      ref.tenantId,
      ref.integrationId,
      superseded,
      {
        code: leaseExpired ? JOB_ERROR.leaseExpired : JOB_ERROR.notPickedUp,
        message: `superseded by job ${request.jobId}: ${leaseExpired ? "the worker's lease expired" : "its message was not picked up in time"}`,
        retryable: true,
      },
      request.now,
    )
    // Cosmetic for correctness (the claim already moved the partition on): the new job must still be created and sent.
    .catch((error: unknown) => deps.log.warn("could not mark a superseded job failed", { jobId: superseded, error }));
  // A job that never started wrote nothing; any other (or one the caller did not read) may have left rows behind.
  const previous = request.previousJob?.jobId === superseded ? request.previousJob : undefined;
  const neverStarted = !leaseExpired && previous?.status === "pending" && previous.invocations === 0;
  return { claimed: true, partition, takenOverJobId: superseded, reconcile: !neverStarted };
}

/** A refusal in words, for skip reasons and logs. */
export function describeRefusal(refusal: ClaimRefusal): string {
  switch (refusal.reason) {
    case "in_flight":
      return `job ${refusal.jobId ?? "?"} is already on it`;
    case "throttled":
      return `triggered less than a minimum interval ago; retry in ${Math.ceil(refusal.retryAfterMs / 1000)} s`;
    case "paused":
      return `the partition is paused (${refusal.pauseReason ?? "manual"})`;
    case "not_due":
      return "another job claimed the partition first";
    case "gone":
      return "the partition no longer exists";
  }
}
