/**
 * The diff of a sync, as pure functions over manifests (externalId → content hash and status).
 *
 * Two bases are kept apart on purpose:
 * - the COMMITTED manifest (the partition's last successful sync) is what counts are computed against, so a sync that
 *   was interrupted and resumed or redelivered reports exactly what a clean run would;
 * - the ROW base (what the item rows hold) decides what must be written. It is the committed manifest, except after a
 *   crash or a failed sync, when rows may hold versions that were never committed and are read back from the items.
 */
import type { ItemStatus } from "../domain/entities.js";
import type { Manifest, ManifestEntry } from "../storage/ports.js";

/** The status an observed item must have: a truthy `deletedField` means deleted, anything seen is otherwise active. */
export function observedStatus(deleted: boolean): ItemStatus {
  return deleted ? "deleted" : "active";
}

export function sameEntry(a: ManifestEntry | undefined, b: ManifestEntry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.hash === b.hash && a.status === b.status;
}

/**
 * Whether an observation must be written. `row` is what the stored row holds (undefined: no row), `earlier` what this
 * same sync observed before for the same id (a duplicate across pages). When the earlier observation differed from the
 * row it was written, so the row now holds it: the latest observation is written even if it equals the old row.
 */
export function needsWrite(
  row: ManifestEntry | undefined,
  earlier: ManifestEntry | undefined,
  next: ManifestEntry,
): boolean {
  if (!sameEntry(row, next)) return true;
  return earlier !== undefined && !sameEntry(row, earlier);
}

export type Change = "created" | "updated" | "reactivated" | "deleted" | "unchanged";

/** What an observation means relative to the committed state. */
export function classifyChange(committed: ManifestEntry | undefined, next: ManifestEntry): Change {
  if (committed === undefined) return "created";
  if (next.status === "deleted") {
    if (committed.status !== "deleted") return "deleted";
    return committed.hash === next.hash ? "unchanged" : "updated";
  }
  if (committed.status !== "active") return "reactivated";
  return committed.hash === next.hash ? "unchanged" : "updated";
}

/** The `change` stamped on a written item row. */
export function rowChange(change: Change): "created" | "updated" | "status" {
  if (change === "created") return "created";
  if (change === "deleted" || change === "reactivated") return "status";
  return "updated";
}

export interface Tally {
  /** Distinct items seen. */
  found: number;
  created: number;
  /** Content changes and reactivations. */
  updated: number;
  /** Items that became `deleted` through `deletedField`. */
  deleted: number;
  unchanged: number;
}

/** Counts of a whole sync: every distinct item seen, classified against the committed manifest. */
export function tally(committed: Manifest, seen: Manifest): Tally {
  const counts: Tally = { found: seen.size, created: 0, updated: 0, deleted: 0, unchanged: 0 };
  for (const [id, entry] of seen) {
    const change = classifyChange(committed.get(id), entry);
    if (change === "created") counts.created++;
    else if (change === "updated" || change === "reactivated") counts.updated++;
    else if (change === "deleted") counts.deleted++;
    else counts.unchanged++;
  }
  return counts;
}

/** Active ids of `base` that the sync did not see, sorted (a stable order lets a finish resume by index). */
export function vanishedActive(base: Manifest, seen: Manifest, exclude?: Manifest): string[] {
  const ids: string[] = [];
  for (const [id, entry] of base) {
    if (entry.status === "active" && !seen.has(id) && !exclude?.has(id)) ids.push(id);
  }
  return ids.sort();
}

export function countActive(manifest: Manifest): number {
  let active = 0;
  for (const entry of manifest.values()) if (entry.status === "active") active++;
  return active;
}

/**
 * The manifest a sync commits: `base` (what is stored) overlaid with everything seen, with `deactivated` ids marked
 * inactive. An incremental sync passes no deactivations, so unseen items keep their state.
 */
export function nextManifest(base: Manifest, seen: Manifest, deactivated: Iterable<string> = []): Manifest {
  const result: Manifest = new Map(base);
  for (const [id, entry] of seen) result.set(id, entry);
  for (const id of deactivated) {
    const entry = result.get(id);
    if (entry && entry.status === "active") result.set(id, { hash: entry.hash, status: "inactive" });
  }
  return result;
}

/** Ids whose entry differs between two manifests (added, removed, or another hash or status). */
export function changedIds(before: Manifest, after: Manifest): string[] {
  const ids: string[] = [];
  for (const [id, entry] of after) if (!sameEntry(before.get(id), entry)) ids.push(id);
  for (const id of before.keys()) if (!after.has(id)) ids.push(id);
  return ids;
}

/** `committed` overlaid with the rows' actual state: rows win, and rows the manifest never knew are added. */
export function mergeRows(committed: Manifest, rows: Manifest): Manifest {
  const merged: Manifest = new Map(committed);
  for (const [id, entry] of rows) merged.set(id, entry);
  return merged;
}
