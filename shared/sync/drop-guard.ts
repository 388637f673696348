/**
 * The suspicious-drop rules of DESIGN.md ("Talking to the gateway"), in one place. A full sync that would take out of
 * `active` (deactivate or mark deleted) more than half of a partition's active items, or all of them at any size, is
 * held: it completes without those status changes and warns; a later sync that confirms the same drop, or `force`,
 * applies it. An object partition is held the same way when the response is empty or less than half the size of the
 * committed object.
 *
 * Holding deletions needs one more rule while paging: an item the committed manifest has `active` and the upstream now
 * says is deleted is written with its new content but still `active`; the finish marks it `deleted` only once the
 * guard lets it (a held drop leaves the rows as readers knew them).
 */
import { createHash } from "node:crypto";
import type { ItemStatus, SyncMode } from "../domain/entities.js";
import type { PartitionRef } from "../domain/ids.js";
import type { ItemRepository, Manifest, ManifestEntry, StatusChangedRow } from "../storage/ports.js";

/** Below this many active items, only an all-gone drop is suspicious (losing 2 of 3 items is ordinary). */
export const DROP_GUARD_MIN_ACTIVE = 10;

/** Whether taking `leaving` items out of `active` (of `activeBefore`) is suspicious. */
export function isSuspiciousDrop(activeBefore: number, leaving: number): boolean {
  if (leaving <= 0 || activeBefore <= 0) return false;
  if (leaving >= activeBefore) return true;
  return activeBefore >= DROP_GUARD_MIN_ACTIVE && leaving * 2 > activeBefore;
}

/**
 * The entry an observation is written with. A full sync defers "active → deleted" (the guard decides at the finish);
 * everything else is written as observed.
 */
export function rowEntryFor(mode: SyncMode, committed: ManifestEntry | undefined, next: ManifestEntry): ManifestEntry {
  if (mode === "full" && next.status === "deleted" && committed?.status === "active") {
    return { hash: next.hash, status: "active" };
  }
  return next;
}

/** Ids the committed manifest has active and this sync saw deleted, sorted (the finish resumes by index). */
export function newlyDeleted(committed: Manifest, seen: Manifest): string[] {
  const ids: string[] = [];
  for (const [id, entry] of seen) {
    if (entry.status === "deleted" && committed.get(id)?.status === "active") ids.push(id);
  }
  return ids.sort();
}

/** Identifies one drop, so a later sync can tell it confirms the same drop. */
export function dropMarker(vanished: readonly string[], deleting: readonly string[]): string {
  const hash = createHash("sha256");
  for (const id of vanished) hash.update(id).update("\n");
  if (deleting.length > 0) hash.update("deleted\n");
  for (const id of deleting) hash.update(id).update("\n");
  return `[drop:${hash.digest("hex").slice(0, 16)}]`;
}

/** One soft-delete step of a finish: the item and the status it takes. */
export interface StatusChange {
  id: string;
  status: Extract<ItemStatus, "inactive" | "deleted">;
}

/** The status changes of a finish, deactivations first, in a stable order (the finish resumes by index). */
export function statusChanges(deactivate: readonly string[], deleting: readonly string[]): StatusChange[] {
  return [
    ...deactivate.map((id): StatusChange => ({ id, status: "inactive" })),
    ...deleting.map((id): StatusChange => ({ id, status: "deleted" })),
  ];
}

/**
 * Applies a slice of status changes with one setStatus call per status (`expiresAt`: the lifecycle TTL of items out of
 * `active`); returns the rows changed, for the change feed.
 */
export async function applyStatusChanges(
  items: Pick<ItemRepository, "setStatus">,
  ref: PartitionRef,
  changes: readonly StatusChange[],
  stamp: { jobId: string; now: number; expiresAt?: number },
): Promise<StatusChangedRow[]> {
  const rows: StatusChangedRow[] = [];
  for (const status of ["inactive", "deleted"] as const) {
    const ids = changes.filter((change) => change.status === status).map((change) => change.id);
    if (ids.length > 0) rows.push(...(await items.setStatus(ref, ids, status, stamp)).rows);
  }
  return rows;
}

/** A held deletion stays what the rows hold: its new content, still active. */
export function holdDeletions(manifest: Manifest, held: readonly string[]): void {
  for (const id of held) {
    const entry = manifest.get(id);
    if (entry) manifest.set(id, { hash: entry.hash, status: "active" });
  }
}

/**
 * Why a new object must be held instead of replacing the committed one, or undefined when it may replace it. Only a
 * committed object can be held on to; the first sync stores whatever it gets.
 */
export function objectHoldReason(
  committedBytes: number | undefined,
  next: unknown,
  nextBytes: number,
): string | undefined {
  if (committedBytes === undefined) return undefined;
  if (isEmptyObject(next)) return "the response is empty";
  if (nextBytes * 2 < committedBytes) {
    return `the response (${nextBytes} bytes) is less than half the size of the committed object (${committedBytes} bytes)`;
  }
  return undefined;
}

/** Identifies one held object response, so a second sync returning the same confirms it. */
export function objectHoldMarker(canonical: string): string {
  return `[object-hold:${createHash("sha256").update(canonical).digest("hex").slice(0, 16)}]`;
}

function isEmptyObject(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value).length === 0;
}
