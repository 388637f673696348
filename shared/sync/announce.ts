/**
 * What follows a job's outcome, once it is durable: the change feed's commit row and the job's event. Called by the
 * worker right after the partition records the outcome (before the job is marked finished), and again by whoever
 * settles a job that a crash left unfinished after that point, so both happen at least once and never for work that
 * did not commit. The commit row is a conditional put and events carry the jobId, so a repeat is harmless.
 */

import type { Clock } from "../domain/clock.js";
import { iso } from "../domain/clock.js";
import type { Job, Partition, PauseReason } from "../domain/entities.js";
import type { PartitionRef } from "../domain/ids.js";
import { type EventPublisher, jobEvent, noopPublisher } from "../events/events.js";
import type { Repositories } from "../storage/ports.js";

export interface AnnounceDeps {
  repos: Pick<Repositories, "changes">;
  events?: EventPublisher | undefined;
  clock: Clock;
  changeRetentionDays: number;
}

const DAY_SECONDS = 86_400;

/** Epoch seconds `days` after `now` (ms): the TTL attribute of rows kept for a retention period. */
export function expiresAfterDays(now: number, days: number): number {
  return Math.floor(now / 1000) + days * DAY_SECONDS;
}

/**
 * After a job committed: makes its staged changes visible (when it produced a new version of a list partition; while
 * settling after a crash `newVersion` is undefined and the partition's `dataJobId` tells) and publishes `Sync Completed`.
 */
export async function announceCommit(
  deps: AnnounceDeps,
  ref: PartitionRef,
  job: Job,
  partition: Pick<Partition, "syncType" | "version" | "lastSyncedAt" | "dataJobId">,
  newVersion: boolean | undefined,
): Promise<void> {
  const now = deps.clock.now();
  // Settling after a crash, the partition says whether this job made its current version.
  const made = newVersion ?? (partition.dataJobId === undefined ? true : partition.dataJobId === job.jobId);
  if (partition.syncType === "list" && partition.version > 0 && made) {
    await deps.repos.changes.recordCommit(
      ref,
      {
        version: partition.version,
        jobId: job.jobId,
        committedAt: partition.lastSyncedAt ?? iso(now),
        changes: job.itemsCreated + job.itemsUpdated + job.itemsDeleted,
      },
      expiresAfterDays(now, deps.changeRetentionDays),
    );
  }
  await (deps.events ?? noopPublisher).publish([jobEvent("Sync Completed", job, iso(now))]);
}

/** After a job failed for good (the partition recorded it): `Partition Paused` when it paused, else `Sync Failed`. */
export async function announceFailure(deps: AnnounceDeps, job: Job, pauseReason?: PauseReason): Promise<void> {
  const now = iso(deps.clock.now());
  const event = pauseReason ? jobEvent("Partition Paused", job, now, pauseReason) : jobEvent("Sync Failed", job, now);
  await (deps.events ?? noopPublisher).publish([event]);
}
