/**
 * Purging a revoked connection's or a deleted source's partitions (DESIGN.md "Lifecycle"). Revoking or deleting pauses
 * the partitions (their data stays, unserved) and gives each a due-index entry at now + REVOKED_RETENTION_DAYS; the
 * planner turns a due paused entry into a `purge` message, and the worker deletes the partition's rows (items, changes,
 * commit rows, manifests, objects) and then the partition itself, never inside an API call. A connection enrolled
 * again or a source saved again before then resumes the partition, which removes the purge entry.
 */
import type { Clock } from "../domain/clock.js";
import { type PartitionRef, refOf } from "../domain/ids.js";
import type { PurgeMessage } from "../domain/sync-message.js";
import type { Logger } from "../log.js";
import { dataPk } from "../storage/keys.js";
import type { DueEntry, Repositories } from "../storage/ports.js";
import type { TableRows } from "./table-rows.js";

const PURGEABLE = new Set(["revoked", "source_deleted"]);

/** After a revoke or a source delete: schedules the purge of the partitions it paused. Returns how many. */
export async function schedulePurges(
  repos: Pick<Repositories, "partitions">,
  scope: { tenantId: string; integrationId: string; connectionId?: string; dataType?: string },
  purgeAt: number,
): Promise<number> {
  const partitions = await repos.partitions.listByIntegration(scope.tenantId, scope.integrationId, {
    ...(scope.connectionId ? { connectionId: scope.connectionId } : {}),
    ...(scope.dataType ? { dataType: scope.dataType } : {}),
  });
  let scheduled = 0;
  for (const p of partitions) {
    if (p.status !== "paused" || !PURGEABLE.has(p.pauseReason ?? "")) continue;
    if (await repos.partitions.schedulePurge(refOf(p), purgeAt)) scheduled++;
  }
  return scheduled;
}

export type PurgeOutcome = { status: "purged"; rows: number } | { status: "kept"; reason: string };

/** Deletes a purgeable partition's rows, then the partition; a partition that came back is kept. */
export async function purgePartition(
  deps: { repos: Pick<Repositories, "partitions">; rows: TableRows; clock: Clock; log: Logger },
  message: PurgeMessage,
): Promise<PurgeOutcome> {
  const ref: PartitionRef = {
    tenantId: message.tenantId,
    integrationId: message.integrationId,
    connectionId: message.connectionId,
    dataType: message.dataType,
  };
  const partition = await deps.repos.partitions.get(ref);
  if (!partition) return { status: "kept", reason: "the partition is already gone" };
  if (partition.status !== "paused" || !PURGEABLE.has(partition.pauseReason ?? "")) {
    return { status: "kept", reason: `the partition is ${partition.status} again` };
  }
  const rows = await deps.rows.deletePartitionKey(dataPk(ref));
  await deps.repos.partitions.delete(ref);
  deps.log.info("partition purged", { ...ref, rows });
  return { status: "purged", rows };
}

/**
 * The planner's side: a due entry of a paused partition is a purge that is due. Its entry moves to `retryAt` (if it is
 * still the one seen, so two planners never both send it) and the purge message is returned; a lost message brings
 * the entry back at `retryAt`.
 */
export async function claimPurge(
  repos: Pick<Repositories, "partitions">,
  entry: DueEntry,
  retryAt: number,
): Promise<PurgeMessage | undefined> {
  if (!(await repos.partitions.schedulePurge(entry.ref, retryAt, entry.dueSk))) return undefined;
  const { tenantId, integrationId, connectionId, dataType } = entry.ref;
  return { v: 1, kind: "purge", tenantId, integrationId, connectionId, dataType };
}
