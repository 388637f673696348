/**
 * Built lookup indexes kept between warm invocations of a Lambda. An entry is valid for exactly one committed
 * version of its partition: a sync flips the partition's `version` when it completes, so reading the partition row
 * (one GetItem, which the caller does anyway for freshness) tells whether the cached index is still the data being
 * served. Entries are evicted least-recently-used once the total number of cached items passes a bound, so memory
 * stays proportional to what is cached, not to what was ever asked for.
 */
import { type PartitionRef, partitionId } from "../domain/ids.js";
import type { ItemRepository } from "../storage/ports.js";
import { buildLookupIndex, type LookupIndex } from "./index.js";

/** Default bound on cached items across all partitions (about 100-150 MB of heap with typical metadata). */
export const DEFAULT_MAX_CACHED_ITEMS = 250_000;

interface Entry {
  version: number;
  /** Settled or in flight: concurrent requests for the same version share one build. */
  index: Promise<LookupIndex>;
  /** Known once built; 0 while in flight. */
  items: number;
}

export interface IndexCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  entries: number;
  items: number;
}

/** An LRU of lookup indexes keyed by partition and valid for one partition version. */
export class LookupIndexCache {
  readonly maxItems: number;
  private readonly entries = new Map<string, Entry>();
  private totalItems = 0;
  private counters = { hits: 0, misses: 0, evictions: 0 };

  constructor(options: { maxItems?: number } = {}) {
    this.maxItems = options.maxItems ?? DEFAULT_MAX_CACHED_ITEMS;
  }

  /**
   * The index of `ref` at `version`, built with `build` when the cache holds none or another version. A failed
   * build is not cached.
   */
  async get(ref: PartitionRef, version: number, build: () => Promise<LookupIndex>): Promise<LookupIndex> {
    const key = partitionId(ref);
    const cached = this.entries.get(key);
    if (cached && cached.version === version) {
      this.counters.hits++;
      // Re-insert: Map iteration order is the LRU order.
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached.index;
    }
    this.counters.misses++;
    if (cached) this.remove(key, cached);
    const entry: Entry = { version, index: build(), items: 0 };
    this.entries.set(key, entry);
    try {
      const index = await entry.index;
      if (this.entries.get(key) === entry) {
        entry.items = index.size;
        this.totalItems += index.size;
        this.evict(key);
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
    this.totalItems = 0;
  }

  stats(): IndexCacheStats {
    return { ...this.counters, entries: this.entries.size, items: this.totalItems };
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.totalItems -= entry.items;
  }

  /** Evicts least-recently-used built entries until the bound holds; the entry just built always stays. */
  private evict(keep: string): void {
    for (const [key, entry] of this.entries) {
      if (this.totalItems <= this.maxItems) return;
      if (key === keep || entry.items === 0) continue;
      this.remove(key, entry);
      this.counters.evictions++;
    }
  }
}

/** The process-wide cache every warm invocation of a query Lambda shares. */
export const indexCache = new LookupIndexCache();

/** How to build a partition's index: the source's lookup fields and fuzzy flag (defaults when it has no source). */
export interface IndexSettings {
  fields?: readonly string[];
  fuzzy?: boolean;
}

/**
 * The lookup index of a partition at its committed `version`: from the cache, or read (`items.listSummaries`, a
 * projection) and built.
 * The index keeps every status (lookup filters per request); the fuzzy flag is the source's default and can be
 * overridden per query, so a source edit that only toggles it needs no rebuild.
 */
export function partitionIndex(
  deps: { items: Pick<ItemRepository, "listSummaries">; cache?: LookupIndexCache },
  ref: PartitionRef,
  version: number,
  settings: IndexSettings = {},
): Promise<LookupIndex> {
  const cache = deps.cache ?? indexCache;
  return cache.get(ref, version, async () => {
    const items = await deps.items.listSummaries(ref);
    const options: { fields?: readonly string[]; fuzzy?: boolean } = {};
    if (settings.fields) options.fields = settings.fields;
    if (settings.fuzzy !== undefined) options.fuzzy = settings.fuzzy;
    return buildLookupIndex(items, options);
  });
}
