/**
 * Object partitions' data for the by-type and context routes. An object is read under the partition's committed
 * version, so it can be kept between warm invocations exactly like a lookup index: valid until the version changes,
 * evicted least-recently-used past a byte bound.
 */
import type { Partition } from "../../domain/entities.js";
import { type PartitionRef, partitionId } from "../../domain/ids.js";
import type { ObjectRepository } from "../../storage/ports.js";

/** Default bound on cached object bytes (uncompressed JSON). */
const DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024;

export interface CachedObject {
  object: unknown;
  syncedAt: string | null;
}

interface Entry {
  version: number;
  value: CachedObject;
  bytes: number;
}

/** An LRU of objects keyed by partition and valid for one partition version. */
export class ObjectCache {
  private readonly entries = new Map<string, Entry>();
  private total = 0;

  constructor(readonly maxBytes = DEFAULT_MAX_OBJECT_BYTES) {}

  get(ref: PartitionRef, version: number): CachedObject | undefined {
    const key = partitionId(ref);
    const entry = this.entries.get(key);
    if (!entry || entry.version !== version) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(ref: PartitionRef, version: number, value: CachedObject, bytes: number): void {
    const key = partitionId(ref);
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.total -= old.bytes;
    }
    if (bytes > this.maxBytes) return;
    this.entries.set(key, { version, value, bytes });
    this.total += bytes;
    for (const [k, e] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(k);
      this.total -= e.bytes;
    }
  }
}

/** The process-wide object cache of the query Lambda. */
export const objectCache = new ObjectCache();

/**
 * The committed object of an object partition: `object: null, syncedAt: null` when it never synced (or its chunks are
 * gone). Served from `cache` while the partition's version holds.
 */
export async function readObject(
  objects: Pick<ObjectRepository, "read">,
  ref: PartitionRef,
  partition: Partition,
  cache: ObjectCache = objectCache,
): Promise<CachedObject> {
  if (partition.version === 0 || partition.objectChunks === 0) return { object: null, syncedAt: null };
  const cached = cache.get(ref, partition.version);
  if (cached) return cached;
  const syncedAt = partition.lastSyncedAt ?? null;
  const stored = await objects.read(ref, partition.version, partition.objectChunks, syncedAt ?? "");
  if (!stored) return { object: null, syncedAt: null };
  const value: CachedObject = { object: stored.object, syncedAt: stored.syncedAt || syncedAt };
  cache.set(ref, partition.version, value, stored.bytes);
  return value;
}
