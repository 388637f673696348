/**
 * What a config change does to partitions: create the ones it implies (inline when there are at most
 * FANOUT_INLINE_LIMIT, else through a `fanout` queue message — never hundreds of writes inside a 29-second API call),
 * or pause them. Pausing never deletes data.
 */
import { mapLimit } from "../../concurrency.js";
import type { Clock } from "../../domain/clock.js";
import type { Partition, PauseReason } from "../../domain/entities.js";
import { InternalError, JOB_ERROR, NotFoundError } from "../../domain/errors.js";
import { refOf } from "../../domain/ids.js";
import type { FanoutMessage } from "../../domain/sync-message.js";
import type { Logger } from "../../log.js";
import type { QuotaLimits } from "../../quotas.js";
import type { Repositories } from "../../storage/ports.js";
import { ensurePartitionsFor, FANOUT_INLINE_LIMIT } from "../../sync/partitions.js";
import type { SyncQueue } from "../../sync/sync-queue.js";
import type { PartitionChange } from "./schemas.js";

/** Partition writes in flight at once. */
export const CONCURRENCY = 16;

export interface ConfigDeps {
  repos: Pick<Repositories, "sources" | "connections" | "partitions" | "jobs" | "usage" | "tenants">;
  /** Tenant quotas; DESIGN.md's defaults when absent. */
  quotas?: QuotaLimits;
  queue: SyncQueue | undefined;
  clock: Clock;
  log: Logger;
}

export interface Scope {
  tenantId: string;
  integrationId: string;
}

export const noChange = (): PartitionChange => ({ mode: "none", created: 0, existing: 0, resumed: 0, paused: 0 });

export async function ensureOrFanout(
  deps: ConfigDeps,
  scope: Scope & { connectionId?: string; dataType?: string },
  pairs: number,
  now: number,
): Promise<PartitionChange> {
  if (pairs === 0) return noChange();
  if (pairs <= FANOUT_INLINE_LIMIT) {
    const result = await ensurePartitionsFor(deps.repos, scope, now);
    return { ...noChange(), mode: "inline", ...result };
  }
  if (!deps.queue) throw new InternalError("The sync queue is not configured (QUEUE_URL); cannot fan out partitions");
  const message: FanoutMessage = { v: 1, kind: "fanout", tenantId: scope.tenantId, integrationId: scope.integrationId };
  if (scope.connectionId) message.connectionId = scope.connectionId;
  if (scope.dataType) message.dataType = scope.dataType;
  const sent = await deps.queue.send([message]);
  if (sent.failed.length > 0) throw new InternalError("Could not enqueue the partition fan-out; retry the request");
  deps.log.info("partition fan-out enqueued", { ...scope, pairs });
  return { ...noChange(), mode: "fanout" };
}

/** Pauses each partition not already paused for `reason`, and fails the job it had in flight. Returns how many. */
export async function pauseAll(
  deps: { repos: Pick<Repositories, "partitions" | "jobs"> },
  partitions: Partition[],
  reason: PauseReason,
  now: number,
  why: string,
): Promise<number> {
  const targets = partitions.filter((p) => !(p.status === "paused" && p.pauseReason === reason));
  await mapLimit(targets, CONCURRENCY, async (p) => {
    try {
      await deps.repos.partitions.pause(refOf(p), reason, now);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      return;
    }
    // Pausing drops the partition's current job: mark it failed so the history does not show it pending forever.
    if (p.currentJobId && (p.status === "queued" || p.status === "syncing")) {
      await deps.repos.jobs.failIfOpen(
        p.tenantId,
        p.integrationId,
        p.currentJobId,
        { code: JOB_ERROR.cancelled, message: `Cancelled: ${why}` },
        now,
      );
    }
  });
  return targets.length;
}

export function quotaDeps(deps: ConfigDeps) {
  return deps.quotas ? { repos: deps.repos, limits: deps.quotas } : { repos: deps.repos };
}
