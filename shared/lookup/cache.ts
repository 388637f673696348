/**
 * Built lookup indexes kept between warm invocations of a Lambda. An entry is valid for exactly one committed
 * version of its partition: a sync flips the partition's `version` when it completes, so reading the partition row
 * (one GetItem, which the caller does anyway for freshness) tells whether the cached index is still the data being
 * served. The cache is bounded in (estimated) bytes of heap, and each tenant may hold at most `tenantShare` of it:
 * a tenant past its share evicts its own least-recently-used indexes first, so one tenant's indexes can never evict
 * all the others' (DESIGN.md "quotas").
 */
import { type PartitionRef, partitionId } from "../domain/ids.js";
import type { IndexSnapshotRepository, ItemRepository } from "../storage/ports.js";
import { buildLookupIndex, type LookupIndex } from "./index.js";
import { type CommittedIndex, type IndexSettings, indexFromSnapshot, snapshotSettingsKey } from "./snapshot.js";

/** Default bound on cached items across all partitions (a secondary bound; bytes decide first). */
export const DEFAULT_MAX_CACHED_ITEMS = 1_000_000;
/** Default bound on the estimated heap of cached indexes: a third of the query Lambda's 1 GB. */
export const DEFAULT_MAX_CACHED_BYTES = 320 * 1024 * 1024;
/** Default share of the cache one tenant may hold. */
export const DEFAULT_TENANT_SHARE = 0.5;

interface Entry {
  tenantId: string;
  version: number;
  /** What else the index was built for (the lookup fields): another variant is a miss, like another version. */
  variant: string;
  /** Settled or in flight: concurrent requests for the same version share one build. */
  index: Promise<LookupIndex>;
  /** Known once built; 0 while in flight. */
  items: number;
  bytes: number;
}

export interface IndexCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  entries: number;
  items: number;
  bytes: number;
}

export interface LookupIndexCacheOptions {
  maxItems?: number;
  maxBytes?: number;
  /** (0, 1]: the most of `maxBytes` one tenant's indexes may take. */
  tenantShare?: number;
  /** Estimated heap of an index; default `estimateIndexBytes`. */
  weigh?: (index: LookupIndex) => number;
}

/** An LRU of lookup indexes keyed by partition and valid for one partition version. */
export class LookupIndexCache {
  readonly maxItems: number;
  readonly maxBytes: number;
  readonly tenantShare: number;
  private readonly weigh: (index: LookupIndex) => number;
  private readonly entries = new Map<string, Entry>();
  private totalItems = 0;
  private totalBytes = 0;
  private readonly tenantBytes = new Map<string, number>();
  private counters = { hits: 0, misses: 0, evictions: 0 };

  constructor(options: LookupIndexCacheOptions = {}) {
    this.maxItems = options.maxItems ?? DEFAULT_MAX_CACHED_ITEMS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_CACHED_BYTES;
    this.tenantShare = Math.min(1, Math.max(0.01, options.tenantShare ?? DEFAULT_TENANT_SHARE));
    this.weigh = options.weigh ?? estimateIndexBytes;
  }

  /**
   * The index of `ref` at `version` (and `variant`), built with `build` when the cache holds none or another version
   * or variant. A failed build is not cached.
   */
  async get(ref: PartitionRef, version: number, build: () => Promise<LookupIndex>, variant = ""): Promise<LookupIndex> {
    const key = partitionId(ref);
    const cached = this.entries.get(key);
    if (cached && cached.version === version && cached.variant === variant) {
      this.counters.hits++;
      // Re-insert: Map iteration order is the LRU order.
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached.index;
    }
    this.counters.misses++;
    if (cached) this.remove(key, cached);
    const entry: Entry = { tenantId: ref.tenantId, version, variant, index: build(), items: 0, bytes: 0 };
    this.entries.set(key, entry);
    try {
      const index = await entry.index;
      if (this.entries.get(key) === entry) {
        entry.items = index.size;
        entry.bytes = this.weigh(index);
        this.totalItems += entry.items;
        this.totalBytes += entry.bytes;
        this.tenantBytes.set(entry.tenantId, (this.tenantBytes.get(entry.tenantId) ?? 0) + entry.bytes);
        this.evict(key, entry.tenantId);
      }
      return index;
    } catch (error) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw error;
    }
  }

  /** Drops the partition's entry (any version). */
  invalidate(ref: PartitionRef): void {
    const key = partitionId(ref);
    const entry = this.entries.get(key);
    if (entry) this.remove(key, entry);
  }

  clear(): void {
    this.entries.clear();
    this.tenantBytes.clear();
    this.totalItems = 0;
    this.totalBytes = 0;
  }

  stats(): IndexCacheStats {
    return { ...this.counters, entries: this.entries.size, items: this.totalItems, bytes: this.totalBytes };
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.totalItems -= entry.items;
    this.totalBytes -= entry.bytes;
    const left = (this.tenantBytes.get(entry.tenantId) ?? 0) - entry.bytes;
    if (left > 0) this.tenantBytes.set(entry.tenantId, left);
    else this.tenantBytes.delete(entry.tenantId);
  }

  /**
   * Evicts least-recently-used built entries: first the tenant's own while it is past its share, then anyone's while
   * the cache is past its bounds. The entry just built always stays.
   */
  private evict(keep: string, tenantId: string): void {
    const share = this.maxBytes * this.tenantShare;
    for (const [key, entry] of this.entries) {
      if ((this.tenantBytes.get(tenantId) ?? 0) <= share) break;
      if (key === keep || entry.items === 0 || entry.tenantId !== tenantId) continue;
      this.remove(key, entry);
      this.counters.evictions++;
    }
    for (const [key, entry] of this.entries) {
      if (this.totalBytes <= this.maxBytes && this.totalItems <= this.maxItems) return;
      if (key === keep || entry.items === 0) continue;
      this.remove(key, entry);
      this.counters.evictions++;
    }
  }
}

/**
 * Estimated heap of an index: its typed arrays, its strings (2 bytes a character plus a header each), and its
 * metadata (JSON size of a sample, scaled). An estimate within a small factor is enough to bound memory.
 */
export function estimateIndexBytes(index: LookupIndex): number {
  let bytes =
    index.statusCodes.byteLength +
    index.postStart.byteLength +
    index.postings.byteLength +
    index.slotStart.byteLength +
    index.slotTokens.byteLength;
  const strings = (list: readonly (string | undefined)[]) => {
    for (const text of list) bytes += 32 + 2 * (text?.length ?? 0);
  };
  strings(index.ids);
  strings(index.names);
  strings(index.dict);
  const sample = Math.min(index.metadata.length, 200);
  if (sample > 0) {
    let sampled = 0;
    const step = index.metadata.length / sample;
    for (let i = 0; i < sample; i++) sampled += JSON.stringify(index.metadata[Math.floor(i * step)] ?? {}).length;
    bytes += Math.round((sampled / sample) * index.metadata.length * 2);
  }
  return bytes;
}

/** The process-wide cache every warm invocation of a query Lambda shares. */
export const indexCache = new LookupIndexCache();

export type { IndexSettings } from "./snapshot.js";

/**
 * The lookup index of a partition at its committed version: from the cache, else from the snapshot its commit recorded
 * (snapshot.ts) when it was built with these settings, else read (`items.listSummaries`, a projection) and built.
 * The index keeps every status (lookup filters per request); the fuzzy flag is the source's default and can be
 * overridden per query, so a source edit that only toggles it needs no rebuild.
 */
export function partitionIndex(
  deps: {
    items: Pick<ItemRepository, "listSummaries">;
    indexSnapshots?: Pick<IndexSnapshotRepository, "read">;
    cache?: LookupIndexCache;
  },
  ref: PartitionRef,
  committed: CommittedIndex,
  settings: IndexSettings = {},
): Promise<LookupIndex> {
  const cache = deps.cache ?? indexCache;
  // Keyed by the lookup fields too: a source edit that changes them must not be answered from the old index.
  return cache.get(
    ref,
    committed.version,
    async () => {
      const snapshot = deps.indexSnapshots && (await indexFromSnapshot(deps.indexSnapshots, ref, committed, settings));
      if (snapshot) return snapshot;
      const items = await deps.items.listSummaries(ref);
      const options: { fields?: readonly string[]; fuzzy?: boolean } = {};
      if (settings.fields) options.fields = settings.fields;
      if (settings.fuzzy !== undefined) options.fuzzy = settings.fuzzy;
      return buildLookupIndex(items, options);
    },
    snapshotSettingsKey(settings),
  );
}
