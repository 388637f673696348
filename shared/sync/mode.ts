/**
 * Full or incremental (DESIGN.md "Sync flow" 3): an incremental sync asks the upstream only for what changed since the
 * START of the last successful sync minus a skew margin (never its end: records changed while it ran would be missed),
 * and a full sync still runs every `fullSyncEverySeconds` to catch deletions, which deltas cannot show.
 */
import type { Partition, SyncMode } from "../domain/entities.js";
import type { ReferenceDataConfig } from "../domain/source-config.js";

/** Clock skew and upstream write lag allowed for between our clock and the upstream's `updated` stamps. */
export const INCREMENTAL_SKEW_MS = 5 * 60_000;

/**
 * The mode a sync runs in. Incremental only when the source supports it, nothing asked for a full sync, the partition
 * has committed data with a known start time, and its last full sync is younger than `fullSyncEverySeconds`.
 */
export function decideMode(
  config: ReferenceDataConfig,
  partition: Pick<Partition, "version" | "lastSyncStartedAt" | "lastFullSyncAt">,
  requested: SyncMode | undefined,
  now: number,
): SyncMode {
  const incremental = config.incremental;
  if (!incremental || config.syncType !== "list" || requested === "full") return "full";
  if (partition.version === 0 || !partition.lastSyncStartedAt || !partition.lastFullSyncAt) return "full";
  const lastFull = Date.parse(partition.lastFullSyncAt);
  if (Number.isNaN(lastFull) || Number.isNaN(Date.parse(partition.lastSyncStartedAt))) return "full";
  return now - lastFull < incremental.fullSyncEverySeconds * 1000 ? "incremental" : "full";
}

/** The `since` value of an incremental sync (ISO 8601): the last successful sync's start minus the skew margin. */
export function incrementalSince(
  partition: Pick<Partition, "lastSyncStartedAt">,
  skewMs: number = INCREMENTAL_SKEW_MS,
): string | undefined {
  if (!partition.lastSyncStartedAt) return undefined;
  const started = Date.parse(partition.lastSyncStartedAt);
  if (Number.isNaN(started)) return undefined;
  return new Date(started - skewMs).toISOString();
}
