/**
 * Name-to-ID lookup over one partition, built once per partition version and queried many times. This module is the
 * index itself (its layout and its build); matching and scoring are in ranking.ts, typo search in typo-search.ts,
 * dictionary searches in dictionary.ts, the list route's word search in search.ts, snapshots in snapshot.ts (format)
 * and snapshot-writer.ts (written at commit, incrementally through the same build).
 *
 * Layout (all integer arrays, so memory stays proportional to the data, not to object overhead):
 * - a sorted token dictionary shared by every field: a prefix is a contiguous range of it (binary search), and the
 *   sorted array doubles as an implicit trie for typo search;
 * - a slot per (item, field) — field 0 is the external ID, then the lookup fields — holding its token ids in order;
 * - postings per token (CSR): the slots containing it, so a token *range* (a prefix) is one contiguous run of slots.
 *
 * Per item it keeps only what matching and a match's answer need: external ID, name, status and metadata (the
 * lookup and context responses). Listings never read items from here: they hydrate them from storage.
 */
import type { ItemStatus } from "../domain/entities.js";
import { normalize, tokenize } from "./normalize.js";
import { buildGramIndex, type GramIndex, gramTypoCandidates } from "./typo-search.js";

/** What the index needs of an item: a subset of the stored Item. */
export interface LookupSourceItem {
  externalId: string;
  name: string;
  /** Values of the lookup fields, keyed by the configured path. */
  lookup?: Readonly<Record<string, string>>;
  metadata?: Readonly<Record<string, unknown>>;
  status: ItemStatus;
}

export interface LookupIndexOptions {
  /** The source's `fuzzyMatch`: prefix and typo matching on top of exact. Default true. */
  fuzzy?: boolean;
  /** Configured lookup fields, in priority order (the first weighs most). Other keys found in items follow. */
  fields?: readonly string[];
}

export type MatchType = "exact" | "prefix" | "fuzzy";

export interface LookupMatch {
  id: string;
  name: string;
  score: number;
  /** `id` for the external ID, else the lookup field's configured path. */
  matchedField: string;
  matchType: MatchType;
  metadata: Record<string, unknown>;
}

export interface LookupResult {
  matches: LookupMatch[];
  /** Another item matches about as well as the best (see the module comment): do not act on the first match. */
  ambiguous: boolean;
}

export interface LookupOptions {
  /** Default 5. */
  limit?: number;
  /** Include inactive and deleted items. Default false. */
  includeInactive?: boolean;
  /** Overrides the index's `fuzzy`. */
  fuzzy?: boolean;
}

/** The slot field name of the external ID. */
export const ID_FIELD = "id";
/** Upper bound on indexed fields per item (the ID plus lookup fields); the source schema allows 10 lookup fields. */
export const MAX_FIELDS = 16;
/** Bounds the work of one query; longer queries keep their first tokens. */
export const MAX_QUERY_TOKENS = 16;
const STATUS_CODE: Readonly<Record<ItemStatus, number>> = { active: 0, inactive: 1, deleted: 2 };
const STATUS_OF: readonly ItemStatus[] = ["active", "inactive", "deleted"];
const EMPTY_METADATA: Readonly<Record<string, unknown>> = Object.freeze({});
/** Per-query working memory, allocated once per index and cleared after each query (lookup is synchronous). */
export interface Scratch {
  best: Float64Array;
  slot: Int32Array;
  type: Uint8Array;
  touched: Uint32Array;
  count: number;
  used: Uint8Array;
}
/** Everything an index is made of: what buildLookupIndex computes and a snapshot stores. */
export interface LookupIndexParts {
  fuzzy: boolean;
  fields: string[];
  ids: string[];
  names: string[];
  metadata: Readonly<Record<string, unknown>>[];
  statusCodes: Uint8Array;
  dict: string[];
  postStart: Uint32Array;
  postings: Uint32Array;
  slotStart: Uint32Array;
  slotTokens: Uint32Array;
  maxSlotTokens: number;
}

/** A built lookup index. Treat every member as read-only; the arrays are shared with cached readers. */
export class LookupIndex {
  /** Number of items. */
  readonly size: number;
  readonly fuzzy: boolean;
  /** Slot fields: `id`, then the lookup fields. */
  readonly fields: readonly string[];
  readonly ids: readonly string[];
  readonly names: readonly string[];
  readonly metadata: readonly Readonly<Record<string, unknown>>[];
  /** 0 active, 1 inactive, 2 deleted. */
  readonly statusCodes: Uint8Array;
  readonly activeCount: number;
  /** @internal sorted distinct tokens */
  readonly dict: readonly string[];
  /** @internal CSR offsets into `postings`, per token */
  readonly postStart: Uint32Array;
  /** @internal slot numbers (item * fields.length + field) */
  readonly postings: Uint32Array;
  /** @internal CSR offsets into `slotTokens`, per slot */
  readonly slotStart: Uint32Array;
  /** @internal token ids of each slot, in order */
  readonly slotTokens: Uint32Array;
  /** @internal longest slot, in tokens */
  readonly maxSlotTokens: number;
  private scratchMemory: Scratch | undefined;
  private nameOrder: Uint32Array | undefined;
  private gramIndex: GramIndex | undefined;

  /** @internal use buildLookupIndex */
  constructor(parts: LookupIndexParts) {
    this.size = parts.ids.length;
    this.fuzzy = parts.fuzzy;
    this.fields = parts.fields;
    this.ids = parts.ids;
    this.names = parts.names;
    this.metadata = parts.metadata;
    this.statusCodes = parts.statusCodes;
    this.dict = parts.dict;
    this.postStart = parts.postStart;
    this.postings = parts.postings;
    this.slotStart = parts.slotStart;
    this.slotTokens = parts.slotTokens;
    this.maxSlotTokens = parts.maxSlotTokens;
    let active = 0;
    for (let i = 0; i < this.size; i++) if (parts.statusCodes[i] === 0) active++;
    this.activeCount = active;
  }

  /** The status of item `i`. */
  statusOf(i: number): ItemStatus {
    return statusOfCode(this.statusCodes[i] ?? 0);
  }

  /** Item indices ordered by name (case- and accent-insensitively), then ID: a stable order for listings. */
  byName(): Uint32Array {
    if (!this.nameOrder) {
      const keys = this.names.map(normalize);
      const order = new Uint32Array(this.size);
      for (let i = 0; i < this.size; i++) order[i] = i;
      order.sort((a, b) => compare(keys[a]!, keys[b]!) || compare(this.ids[a]!, this.ids[b]!));
      this.nameOrder = order;
    }
    return this.nameOrder;
  }

  /** @internal */
  scratch(): Scratch {
    this.scratchMemory ??= {
      best: new Float64Array(this.size),
      slot: new Int32Array(this.size),
      type: new Uint8Array(this.size),
      touched: new Uint32Array(this.size),
      count: 0,
      used: new Uint8Array(Math.max(1, this.maxSlotTokens)),
    };
    return this.scratchMemory;
  }

  /**
   * Dictionary tokens within `maxDistance` of `token` (token id → distance), from a bigram index over the dictionary
   * built on first use: only tokens of a compatible length that share enough bigrams are verified.
   */
  typos(token: string, maxDistance: number): Map<number, number> {
    this.gramIndex ??= buildGramIndex(this.dict);
    return gramTypoCandidates(this.gramIndex, this.dict, token, maxDistance);
  }
}

/** The status of a status code (0 active, 1 inactive, 2 deleted). */
export function statusOfCode(code: number): ItemStatus {
  return STATUS_OF[code] ?? "active";
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Builds the index of a partition's items. Items keep their order (the stored order), which `searchItems` preserves.
 * The ID is always indexed (exact only); lookup fields are the item's `lookup` values, or its name when it has none.
 */
export function buildLookupIndex(items: Iterable<LookupSourceItem>, options: LookupIndexOptions = {}): LookupIndex {
  const list = Array.isArray(items) ? (items as LookupSourceItem[]) : [...items];
  return assembleLookupIndex(buildIndexCore(itemsSource(list), options));
}

/**
 * What a build reads of the item at position `i` (positions are the index's item order). buildLookupIndex reads
 * LookupSourceItems; an incremental snapshot (snapshot-writer.ts) reads its unchanged items from the previous index.
 */
export interface IndexSource {
  readonly count: number;
  externalId(i: number): string;
  name(i: number): string;
  metadata(i: number): Readonly<Record<string, unknown>>;
  status(i: number): ItemStatus;
  /** The item's lookup keys in its own order: they decide the index's fields (none: its name stands in). */
  lookupKeys(i: number): readonly string[];
  /** The tokens of the item in `field` (a slot field): what `itemFieldTokens` gives for it. */
  tokens(i: number, field: string): readonly string[];
}

/** The LookupSourceItems of a list, as a build reads them. */
export function itemsSource(list: readonly LookupSourceItem[]): IndexSource {
  return {
    count: list.length,
    externalId: (i) => list[i]!.externalId,
    name: (i) => list[i]!.name,
    metadata: (i) => list[i]!.metadata ?? EMPTY_METADATA,
    status: (i) => list[i]!.status,
    lookupKeys: (i) => lookupKeysOf(list[i]!),
    tokens: (i, field) => itemFieldTokens(list[i]!, field),
  };
}

/** An item's lookup keys, in its own order. */
export function lookupKeysOf(item: LookupSourceItem): string[] {
  return item.lookup ? Object.keys(item.lookup) : [];
}

/**
 * The tokens an item has in a slot field: the ID's in `id`; with lookup values, the value of that key; without any,
 * its name in the name fallback field. The one rule of what is indexed where.
 */
export function itemFieldTokens(item: LookupSourceItem, field: string): readonly string[] {
  if (field === ID_FIELD) return tokenize(item.externalId);
  const lookup = item.lookup;
  if (lookup !== undefined && hasKeys(lookup)) {
    const value = lookup[field];
    return value === undefined || value === "" ? NO_TOKENS : tokenize(value);
  }
  return field === NAME_FALLBACK_FIELD ? tokenize(item.name) : NO_TOKENS;
}

const NO_TOKENS: readonly string[] = Object.freeze([]);

function hasKeys(record: Readonly<Record<string, unknown>>): boolean {
  for (const _ in record) return true;
  return false;
}

/** The core of the index of `source`'s items, in their order (see buildLookupIndex). */
export function buildIndexCore(source: IndexSource, options: LookupIndexOptions = {}): LookupIndexCore {
  const fields = resolveFields(source, options.fields ?? []);
  const fieldCount = fields.length;
  const n = source.count;

  const ids: string[] = new Array(n);
  const names: string[] = new Array(n);
  const metadata: Readonly<Record<string, unknown>>[] = new Array(n);
  const statusCodes = new Uint8Array(n);

  // Temporary token ids in first-seen order; remapped to sorted ranks once the dictionary is known.
  const tempIds = new Map<string, number>();
  const tempTokens: string[] = [];
  const slotStart = new Uint32Array(n * fieldCount + 1);
  let slotTokens = new Uint32Array(Math.max(16, n * fieldCount * 3));
  let total = 0;
  let maxSlotTokens = 0;

  const addTokens = (tokens: readonly string[]) => {
    if (tokens.length === 0) return;
    if (tokens.length > maxSlotTokens) maxSlotTokens = tokens.length;
    if (total + tokens.length > slotTokens.length) {
      const grown = new Uint32Array(Math.max(slotTokens.length * 2, total + tokens.length));
      grown.set(slotTokens);
      slotTokens = grown;
    }
    for (const token of tokens) {
      let id = tempIds.get(token);
      if (id === undefined) {
        id = tempTokens.length;
        tempIds.set(token, id);
        tempTokens.push(token);
      }
      slotTokens[total++] = id;
    }
  };

  for (let i = 0; i < n; i++) {
    ids[i] = source.externalId(i);
    names[i] = source.name(i);
    metadata[i] = source.metadata(i);
    statusCodes[i] = STATUS_CODE[source.status(i)] ?? 0;
    for (let f = 0; f < fieldCount; f++) {
      slotStart[i * fieldCount + f] = total;
      addTokens(source.tokens(i, fields[f]!));
    }
  }
  slotStart[n * fieldCount] = total;

  const dict = tempTokens.slice().sort();
  const rankOfTemp = new Uint32Array(dict.length);
  for (let r = 0; r < dict.length; r++) rankOfTemp[tempIds.get(dict[r]!)!] = r;
  const finalSlotTokens = new Uint32Array(total);
  for (let p = 0; p < total; p++) finalSlotTokens[p] = rankOfTemp[slotTokens[p]!]!;

  return {
    fuzzy: options.fuzzy ?? true,
    fields,
    ids,
    names,
    metadata,
    statusCodes,
    dict,
    slotStart,
    slotTokens: finalSlotTokens,
    maxSlotTokens,
  };
}

/** The parts that determine an index: its postings are derived from the slots (a snapshot stores only these). */
export type LookupIndexCore = Omit<LookupIndexParts, "postStart" | "postings">;

/** An index from its core parts: the postings (token → slots) computed in two linear passes. */
export function assembleLookupIndex(core: LookupIndexCore): LookupIndex {
  const { dict, slotStart, slotTokens } = core;
  const slots = core.ids.length * core.fields.length;
  // Postings: one entry per (token, slot), duplicates within a slot dropped.
  const counts = new Uint32Array(dict.length + 1);
  forEachDistinctToken(slotTokens, slotStart, slots, (token) => {
    counts[token + 1]!++;
  });
  for (let t = 0; t < dict.length; t++) counts[t + 1]! += counts[t]!;
  const postStart = counts;
  const fill = postStart.slice(0, dict.length);
  const postings = new Uint32Array(postStart[dict.length]!);
  forEachDistinctToken(slotTokens, slotStart, slots, (token, slot) => {
    postings[fill[token]!++] = slot;
  });

  return new LookupIndex({ ...core, postStart, postings });
}

/** Lookup field used for items stored without lookup values: their name. */
const NAME_FALLBACK_FIELD = "name";

function resolveFields(source: IndexSource, configured: readonly string[]): string[] {
  const fields = [ID_FIELD];
  const seen = new Set<string>([ID_FIELD]);
  const add = (field: string) => {
    if (!seen.has(field) && fields.length < MAX_FIELDS) {
      seen.add(field);
      fields.push(field);
    }
  };
  for (const field of configured) add(field);
  let needsNameFallback = false;
  for (let i = 0; i < source.count; i++) {
    const keys = source.lookupKeys(i);
    for (const key of keys) add(key);
    if (keys.length === 0) needsNameFallback = true;
  }
  if (needsNameFallback) add(NAME_FALLBACK_FIELD);
  return fields;
}

function forEachDistinctToken(
  tokens: Uint32Array,
  slotStart: Uint32Array,
  slots: number,
  visit: (token: number, slot: number) => void,
): void {
  for (let s = 0; s < slots; s++) {
    const start = slotStart[s]!;
    const end = slotStart[s + 1]!;
    for (let p = start; p < end; p++) {
      const token = tokens[p]!;
      let repeated = false;
      for (let q = start; q < p; q++) {
        if (tokens[q] === token) {
          repeated = true;
          break;
        }
      }
      if (!repeated) visit(token, s);
    }
  }
}
