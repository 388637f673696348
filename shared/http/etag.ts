/**
 * Conditional reads (DESIGN.md "Conditional reads"): every data GET carries an ETag derived from the partitions it
 * reads (their committed version, state and last change) and the query. A request whose `If-None-Match` matches is
 * answered 304 after reading only the partition rows, before the service reads anything else.
 */
import { createHash } from "node:crypto";
import type { Partition } from "../domain/entities.js";

/** The ETag of a read: weak (the body's bytes may differ, e.g. `stale` flips with time, the data does not). */
export function etagOf(partitions: readonly Partition[], query: Record<string, unknown>, extra = ""): string {
  const hash = createHash("sha256").update(stableJson(query)).update("\n").update(extra);
  const rows = [...partitions].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  for (const p of rows) {
    hash.update(`\n${keyOf(p)}|${p.version}|${p.status}|${p.pauseReason ?? ""}|${p.updatedAt}|${p.lastSyncedAt ?? ""}`);
  }
  return `W/"${hash.digest("base64url").slice(0, 27)}"`;
}

/** Whether an `If-None-Match` header value names `etag` (a list, `*`, weak or strong forms). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const wanted = opaque(etag);
  return header.split(",").some((candidate) => {
    const value = candidate.trim();
    return value === "*" || opaque(value) === wanted;
  });
}

function opaque(tag: string): string {
  return tag.startsWith("W/") ? tag.slice(2) : tag;
}

function keyOf(p: Partition): string {
  return `${p.connectionId}#${p.dataType}`;
}

function stableJson(value: Record<string, unknown>): string {
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(entries);
}
