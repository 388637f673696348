/**
 * Name-to-ID lookup over one partition, built once per partition version and queried many times.
 *
 * Layout (all integer arrays, so memory stays proportional to the data, not to object overhead):
 * - a sorted token dictionary shared by every field: a prefix is a contiguous range of it (binary search), and the
 *   sorted array doubles as an implicit trie for typo search;
 * - a slot per (item, field) — field 0 is the external ID, then the lookup fields — holding its token ids in order;
 * - postings per token (CSR): the slots containing it, so a token *range* (a prefix) is one contiguous run of slots.
 *
 * Matching, best first:
 * - `exact`: the normalised query equals a whole normalised value (ID or lookup field). A raw, case-sensitive match
 *   on the external ID scores 1, any other exact match 0.99.
 * - `prefix` (fuzzy sources only): every query token equals a token of one field, the last one possibly as a prefix
 *   (as typed: `derek os` finds "Derek Osgood"). Scored 0.5–0.95.
 * - `fuzzy` (fuzzy sources only): every query token matches a token of one field exactly, as a prefix, or within a
 *   Damerau–Levenshtein distance of 1 (tokens of 4–7 characters) or 2 (8 or more). Scored 0.1–0.49. `sara chen`
 *   finds "Sarah Chen" here: a finished word that is only the start of another is treated as a typo, not a prefix.
 *   Typo candidates come from the dictionary alone (a trie walk with pruning), never from scoring every item.
 * Within a band, the score grows with the share of the field's tokens matched, the quality of each token match and
 * a match on the field's first token.
 *
 * `ambiguous` (an agent must not act on a guess): when the best match is exact, true only if another item ties with
 * it (two items with the same name); when it is not exact, true whenever another item matched with the same match
 * type (every query token matched, as every stage requires), however their scores compare.
 */
import type { ItemStatus } from "../domain/entities.js";
import { normalize, tokenize } from "./normalize.js";

/** What the index needs of an item: a subset of the stored Item. */
export interface LookupSourceItem {
  externalId: string;
  name: string;
  /** Values of the lookup fields, keyed by the configured path. */
  lookup?: Readonly<Record<string, string>>;
  metadata?: Readonly<Record<string, unknown>>;
  status: ItemStatus;
  /** Kept for listing from the index (the list route's `updatedAt`). */
  updatedAt?: string;
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
const MAX_FIELDS = 16;
/** Bounds the work of one query; longer queries keep their first tokens. */
const MAX_QUERY_TOKENS = 16;

const STATUS_CODE: Readonly<Record<ItemStatus, number>> = { active: 0, inactive: 1, deleted: 2 };
const STATUS_OF: readonly ItemStatus[] = ["active", "inactive", "deleted"];

const TYPE_EXACT = 1;
const TYPE_PREFIX = 2;
const TYPE_FUZZY = 3;
const TYPE_NAME: Readonly<Record<number, MatchType>> = { 1: "exact", 2: "prefix", 3: "fuzzy" };

/** Score bands: every exact match outranks every prefix match, which outranks every fuzzy one. */
const EXACT_ID_SCORE = 1;
const EXACT_SCORE = 0.99;
const PREFIX_BASE = 0.5;
const PREFIX_SPAN = 0.45;
const FUZZY_BASE = 0.1;
const FUZZY_SPAN = 0.39;

const EMPTY_METADATA: Readonly<Record<string, unknown>> = Object.freeze({});

/** Per-query working memory, allocated once per index and cleared after each query (lookup is synchronous). */
interface Scratch {
  best: Float64Array;
  slot: Int32Array;
  type: Uint8Array;
  touched: Uint32Array;
  count: number;
  used: Uint8Array;
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
  readonly updatedAt: readonly (string | undefined)[];
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
  constructor(parts: {
    fuzzy: boolean;
    fields: string[];
    ids: string[];
    names: string[];
    metadata: Readonly<Record<string, unknown>>[];
    updatedAt: (string | undefined)[];
    statusCodes: Uint8Array;
    dict: string[];
    postStart: Uint32Array;
    postings: Uint32Array;
    slotStart: Uint32Array;
    slotTokens: Uint32Array;
    maxSlotTokens: number;
  }) {
    this.size = parts.ids.length;
    this.fuzzy = parts.fuzzy;
    this.fields = parts.fields;
    this.ids = parts.ids;
    this.names = parts.names;
    this.metadata = parts.metadata;
    this.updatedAt = parts.updatedAt;
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
    return STATUS_OF[this.statusCodes[i] ?? 0] ?? "active";
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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Builds the index of a partition's items. Items keep their order (the stored order), which `searchItems` preserves.
 * The ID is always indexed (exact only); lookup fields are the item's `lookup` values, or its name when it has none.
 */
export function buildLookupIndex(items: Iterable<LookupSourceItem>, options: LookupIndexOptions = {}): LookupIndex {
  const list = Array.isArray(items) ? (items as LookupSourceItem[]) : [...items];
  const fields = resolveFields(list, options.fields ?? []);
  const fieldCount = fields.length;
  const n = list.length;

  const ids: string[] = new Array(n);
  const names: string[] = new Array(n);
  const metadata: Readonly<Record<string, unknown>>[] = new Array(n);
  const updatedAt: (string | undefined)[] = new Array(n);
  const statusCodes = new Uint8Array(n);

  // Temporary token ids in first-seen order; remapped to sorted ranks once the dictionary is known.
  const tempIds = new Map<string, number>();
  const tempTokens: string[] = [];
  const slotStart = new Uint32Array(n * fieldCount + 1);
  let slotTokens = new Uint32Array(Math.max(16, n * fieldCount * 3));
  let total = 0;
  let maxSlotTokens = 0;

  const addValue = (value: string | undefined) => {
    if (value === undefined || value === "") return;
    const tokens = tokenize(value);
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
    const item = list[i]!;
    ids[i] = item.externalId;
    names[i] = item.name;
    metadata[i] = item.metadata ?? EMPTY_METADATA;
    updatedAt[i] = item.updatedAt;
    statusCodes[i] = STATUS_CODE[item.status] ?? 0;
    const lookup = item.lookup;
    const hasLookup = lookup !== undefined && Object.keys(lookup).length > 0;
    for (let f = 0; f < fieldCount; f++) {
      slotStart[i * fieldCount + f] = total;
      if (f === 0) addValue(item.externalId);
      else if (hasLookup) addValue(lookup[fields[f]!]);
      else if (fields[f] === NAME_FALLBACK_FIELD) addValue(item.name);
    }
  }
  slotStart[n * fieldCount] = total;

  const dict = tempTokens.slice().sort();
  const rankOfTemp = new Uint32Array(dict.length);
  for (let r = 0; r < dict.length; r++) rankOfTemp[tempIds.get(dict[r]!)!] = r;
  const finalSlotTokens = new Uint32Array(total);
  for (let p = 0; p < total; p++) finalSlotTokens[p] = rankOfTemp[slotTokens[p]!]!;

  // Postings: one entry per (token, slot), duplicates within a slot dropped.
  const counts = new Uint32Array(dict.length + 1);
  const slots = n * fieldCount;
  forEachDistinctToken(finalSlotTokens, slotStart, slots, (token) => {
    counts[token + 1]!++;
  });
  for (let t = 0; t < dict.length; t++) counts[t + 1]! += counts[t]!;
  const postStart = counts;
  const fill = postStart.slice(0, dict.length);
  const postings = new Uint32Array(postStart[dict.length]!);
  forEachDistinctToken(finalSlotTokens, slotStart, slots, (token, slot) => {
    postings[fill[token]!++] = slot;
  });

  return new LookupIndex({
    fuzzy: options.fuzzy ?? true,
    fields,
    ids,
    names,
    metadata,
    updatedAt,
    statusCodes,
    dict,
    postStart,
    postings,
    slotStart,
    slotTokens: finalSlotTokens,
    maxSlotTokens,
  });
}

/** Lookup field used for items stored without lookup values: their name. */
const NAME_FALLBACK_FIELD = "name";

function resolveFields(items: readonly LookupSourceItem[], configured: readonly string[]): string[] {
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
  for (const item of items) {
    const lookup = item.lookup;
    let any = false;
    if (lookup) {
      for (const key in lookup) {
        any = true;
        add(key);
      }
    }
    if (!any) needsNameFallback = true;
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

/** First index in [from, dict.length) whose token is >= key. */
function lowerBound(dict: readonly string[], key: string, from = 0): number {
  let lo = from;
  let hi = dict.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (dict[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Normalised tokens never contain U+FFFF (a noncharacter), so `prefix + "\uffff"` bounds every token with it. */
const PREFIX_END = "\uffff";

function tokenIdOf(dict: readonly string[], token: string): number {
  const i = lowerBound(dict, token);
  return dict[i] === token ? i : -1;
}

function prefixRange(dict: readonly string[], prefix: string): [number, number] {
  const lo = lowerBound(dict, prefix);
  return [lo, lowerBound(dict, prefix + PREFIX_END, lo)];
}

/** Largest typo distance allowed for a query token of this length. */
export function maxTypos(length: number): number {
  return length >= 8 ? 2 : length >= 4 ? 1 : 0;
}

/**
 * Dictionary tokens within `maxDistance` (optimal string alignment: insert, delete, substitute, transpose) of
 * `query`: token id → distance. Walks the sorted dictionary as a trie — rows of the edit-distance table are shared
 * by tokens with a common prefix, and a prefix whose best cell already exceeds the distance is skipped with one
 * binary search — so the cost follows the few branches near the query, not the dictionary size.
 */
export function typoCandidates(dict: readonly string[], query: string, maxDistance: number): Map<number, number> {
  const found = new Map<number, number>();
  const qLen = query.length;
  const width = qLen + 1;
  const maxDepth = qLen + maxDistance;
  const rows = new Int32Array((maxDepth + 2) * width);
  for (let j = 0; j <= qLen; j++) rows[j] = j;
  let previous = "";
  let validDepth = 0;
  let i = 0;
  const size = dict.length;
  while (i < size) {
    const token = dict[i]!;
    const tLen = token.length;
    let depth = 0;
    const shared = Math.min(validDepth, tLen, previous.length);
    while (depth < shared && token.charCodeAt(depth) === previous.charCodeAt(depth)) depth++;
    let prunedAt = 0;
    for (let d = depth + 1; d <= tLen; d++) {
      if (d > maxDepth) {
        prunedAt = d;
        break;
      }
      const c = token.charCodeAt(d - 1);
      const base = d * width;
      const above = base - width;
      rows[base] = d;
      let rowMin = d;
      for (let j = 1; j <= qLen; j++) {
        const qc = query.charCodeAt(j - 1);
        const cost = qc === c ? 0 : 1;
        let v = rows[above + j - 1]! + cost;
        const del = rows[above + j]! + 1;
        if (del < v) v = del;
        const ins = rows[base + j - 1]! + 1;
        if (ins < v) v = ins;
        if (cost === 1 && d > 1 && j > 1 && c === query.charCodeAt(j - 2) && token.charCodeAt(d - 2) === qc) {
          const transposed = rows[above - width + j - 2]! + 1;
          if (transposed < v) v = transposed;
        }
        rows[base + j] = v;
        if (v < rowMin) rowMin = v;
      }
      // With transpositions a later row can only beat this row's minimum by reusing a cell that already bounds it,
      // so no token below this prefix can come back within the distance.
      if (rowMin > maxDistance) {
        prunedAt = d;
        break;
      }
    }
    previous = token;
    if (prunedAt > 0) {
      validDepth = prunedAt - 1;
      i = lowerBound(dict, token.slice(0, prunedAt) + PREFIX_END, i + 1);
      continue;
    }
    validDepth = tLen;
    const distance = rows[tLen * width + qLen]!;
    if (distance <= maxDistance) found.set(i, distance);
    i++;
  }
  return found;
}

/** Bigram postings over the dictionary; each gram's tokens sorted by length, so a length window is one range. */
interface GramIndex {
  grams: Map<number, number>;
  start: Uint32Array;
  tokens: Uint32Array;
  lengths: Uint8Array;
  /** Per-query counters (one per token) and the tokens they were raised for. */
  counters: Uint8Array;
  touched: Uint32Array;
}

/** Word boundary in a bigram: `$sarah$` has the grams `$s`, `sa`, …, `h$`. */
const BOUNDARY = 0;

function gramKey(a: number, b: number): number {
  return a * 65_536 + b;
}

/** Distinct bigram keys of a token, boundaries included. */
function gramsOf(token: string): number[] {
  const out: number[] = [];
  let previous = BOUNDARY;
  for (let i = 0; i <= token.length; i++) {
    const c = i < token.length ? token.charCodeAt(i) : BOUNDARY;
    const key = gramKey(previous, c);
    if (!out.includes(key)) out.push(key);
    previous = c;
  }
  return out;
}

function buildGramIndex(dict: readonly string[]): GramIndex {
  const size = dict.length;
  const lengths = new Uint8Array(size);
  const perLength = new Uint32Array(257);
  for (let t = 0; t < size; t++) {
    const length = Math.min(255, dict[t]!.length);
    lengths[t] = length;
    perLength[length + 1]!++;
  }
  for (let l = 0; l < 256; l++) perLength[l + 1]! += perLength[l]!;
  const byLength = new Uint32Array(size);
  for (let t = 0; t < size; t++) byLength[perLength[lengths[t]!]!++] = t;

  const grams = new Map<number, number>();
  const tokenGrams: number[][] = new Array(size);
  let counts = new Uint32Array(1024);
  for (let t = 0; t < size; t++) {
    const ids: number[] = [];
    for (const key of gramsOf(dict[t]!)) {
      let id = grams.get(key);
      if (id === undefined) {
        id = grams.size;
        grams.set(key, id);
        if (id + 2 > counts.length) {
          const grown = new Uint32Array(counts.length * 2);
          grown.set(counts);
          counts = grown;
        }
      }
      counts[id + 1]!++;
      ids.push(id);
    }
    tokenGrams[t] = ids;
  }
  const start = new Uint32Array(grams.size + 1);
  for (let g = 0; g < grams.size; g++) start[g + 1] = start[g]! + counts[g + 1]!;
  const fill = start.slice(0, grams.size);
  const tokens = new Uint32Array(start[grams.size]!);
  for (const t of byLength) for (const g of tokenGrams[t]!) tokens[fill[g]!++] = t;
  return { grams, start, tokens, lengths, counters: new Uint8Array(size), touched: new Uint32Array(size) };
}

/** First position in [lo, hi) of `tokens` whose token length is >= length. */
function lengthBound(g: GramIndex, lo: number, hi: number, length: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (g.lengths[g.tokens[mid]!]! < length) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Typo candidates by the q-gram count filter: one edit destroys at most 3 of a word's bigrams (a transposition; a
 * substitution 2, an insertion 1), so a token within distance d shares at least (distinct bigrams of the query - 3d)
 * of them and its length differs by at most d. Survivors are verified exactly. Queries too short or repetitive for
 * the filter to bound anything fall back to the trie walk.
 */
function gramTypoCandidates(
  g: GramIndex,
  dict: readonly string[],
  query: string,
  maxDistance: number,
): Map<number, number> {
  const queryGrams = gramsOf(query);
  const need = queryGrams.length - 3 * maxDistance;
  if (need <= 0) return typoCandidates(dict, query, maxDistance);
  const minLength = Math.max(1, query.length - maxDistance);
  const maxLength = Math.min(255, query.length + maxDistance);
  const candidates: number[] = [];
  let touched = 0;
  for (const key of queryGrams) {
    const id = g.grams.get(key);
    if (id === undefined) continue;
    const lo = lengthBound(g, g.start[id]!, g.start[id + 1]!, minLength);
    const hi = lengthBound(g, lo, g.start[id + 1]!, maxLength + 1);
    for (let p = lo; p < hi; p++) {
      const t = g.tokens[p]!;
      const count = ++g.counters[t]!;
      if (count === 1) g.touched[touched++] = t;
      if (count === need) candidates.push(t);
    }
  }
  for (let i = 0; i < touched; i++) g.counters[g.touched[i]!] = 0;
  const found = new Map<number, number>();
  for (const t of candidates) {
    const distance = boundedDistance(query, dict[t]!, maxDistance);
    if (distance <= maxDistance) found.set(t, distance);
  }
  return found;
}

/** Reused by boundedDistance: lookups are synchronous, and allocating a table per candidate dominated its cost. */
let distanceRows = new Int32Array(1024);

/** Optimal string alignment distance of a and b, or max + 1 as soon as it must exceed max. */
export function boundedDistance(a: string, b: string, max: number): number {
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > max) return max + 1;
  const width = lb + 1;
  if ((la + 1) * width > distanceRows.length) distanceRows = new Int32Array((la + 1) * width * 2);
  const rows = distanceRows;
  for (let j = 0; j <= lb; j++) rows[j] = j;
  for (let i = 1; i <= la; i++) {
    const base = i * width;
    const above = base - width;
    rows[base] = i;
    let rowMin = i;
    const ca = a.charCodeAt(i - 1);
    // Cells farther than `max` from the diagonal cannot be within max; bound them instead of computing them.
    const from = Math.max(1, i - max);
    const to = Math.min(lb, i + max);
    if (from > 1) rows[base + from - 1] = max + 1;
    for (let j = from; j <= to; j++) {
      const cb = b.charCodeAt(j - 1);
      const cost = ca === cb ? 0 : 1;
      let v = rows[above + j - 1]! + cost;
      const del = j < i + max ? rows[above + j]! + 1 : max + 1;
      if (del < v) v = del;
      const ins = rows[base + j - 1]! + 1;
      if (ins < v) v = ins;
      if (cost === 1 && i > 1 && j > 1 && ca === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === cb) {
        const transposed = rows[above - width + j - 2]! + 1;
        if (transposed < v) v = transposed;
      }
      rows[base + j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (to < lb) rows[base + to + 1] = max + 1;
    if (rowMin > max) return max + 1;
  }
  return Math.min(rows[la * width + lb]!, max + 1);
}

/** How one query token may match a dictionary token, and how well. */
interface TokenMatcher {
  /** Exact token id, or -1. */
  exact: number;
  /** Prefix range [lo, hi) of dictionary ids; empty when prefixes are not allowed. */
  lo: number;
  hi: number;
  /** Quality of a prefix match: base + span * (query length / token length). */
  prefixBase: number;
  prefixSpan: number;
  length: number;
  /** Typo candidates: token id → quality. */
  typos: Map<number, number> | undefined;
  /** Slots this matcher can reach, for picking the cheapest driver. */
  reach: number;
}

const TYPO_QUALITY = [1, 0.7, 0.5];

function tokenQuality(index: LookupIndex, m: TokenMatcher, token: number): number {
  if (token === m.exact) return 1;
  let q = 0;
  if (token >= m.lo && token < m.hi) q = m.prefixBase + (m.prefixSpan * m.length) / index.dict[token]!.length;
  if (m.typos) {
    const typo = m.typos.get(token);
    if (typo !== undefined && typo > q) q = typo;
  }
  return q;
}

/**
 * Scores one slot against the query: each query token takes its best unused token of the slot. Returns the raw
 * 0..1 score, or -1 when some query token matches nothing.
 */
function scoreSlot(index: LookupIndex, slot: number, matchers: readonly TokenMatcher[], used: Uint8Array): number {
  const start = index.slotStart[slot]!;
  const m = index.slotStart[slot + 1]! - start;
  const k = matchers.length;
  if (m < k) return -1;
  let sum = 0;
  let first = 0;
  let ok = true;
  for (let j = 0; j < k && ok; j++) {
    const matcher = matchers[j]!;
    let bestQ = 0;
    let bestPos = -1;
    for (let pos = 0; pos < m; pos++) {
      if (used[pos]) continue;
      const q = tokenQuality(index, matcher, index.slotTokens[start + pos]!);
      if (q > bestQ) {
        bestQ = q;
        bestPos = pos;
        if (q === 1) break;
      }
    }
    if (bestPos < 0) {
      ok = false;
      break;
    }
    used[bestPos] = 1;
    sum += bestQ;
    if (j === 0 && bestPos === 0) first = 1;
  }
  used.fill(0, 0, m);
  if (!ok) return -1;
  return 0.6 * (sum / k) + 0.3 * (k / m) + 0.1 * first;
}

/** The first lookup field weighs most: it is usually the display name. */
function fieldWeight(field: number): number {
  return field === 1 ? 1 : 0.96;
}

function round(score: number): number {
  return Math.round(score * 1000) / 1000;
}

function record(s: Scratch, item: number, slot: number, score: number, type: number): void {
  const current = s.best[item]!;
  if (current === 0) s.touched[s.count++] = item;
  if (score > current) {
    s.best[item] = score;
    s.slot[item] = slot;
    s.type[item] = type;
  }
}

/**
 * Resolves `query` to the best-matching items: exact first, then (fuzzy sources) prefix, then typo-tolerant, ranked
 * by score. Inactive and deleted items are excluded unless `includeInactive`.
 */
export function lookup(index: LookupIndex, query: string, options: LookupOptions = {}): LookupResult {
  const { ranked, ambiguous } = rank(index, query, options);
  const matches = ranked.map(
    (r): LookupMatch => ({
      id: index.ids[r.item]!,
      name: index.names[r.item]!,
      score: r.score,
      matchedField: index.fields[r.field]!,
      matchType: TYPE_NAME[r.type] ?? "fuzzy",
      metadata: index.metadata[r.item] as Record<string, unknown>,
    }),
  );
  return { matches, ambiguous };
}

/** Like `lookup`, but the positions of the matched items in the index, best first. */
export function lookupItems(index: LookupIndex, query: string, options: LookupOptions = {}): number[] {
  return rank(index, query, options).ranked.map((r) => r.item);
}

interface Ranked {
  item: number;
  score: number;
  field: number;
  type: number;
}

function rank(index: LookupIndex, query: string, options: LookupOptions): { ranked: Ranked[]; ambiguous: boolean } {
  const limit = Math.max(1, Math.floor(options.limit ?? 5));
  const tokens = tokenize(query).slice(0, MAX_QUERY_TOKENS);
  if (tokens.length === 0 || index.size === 0) return { ranked: [], ambiguous: false };
  const fuzzy = options.fuzzy ?? index.fuzzy;
  const allowed = options.includeInactive ? 3 : 1;
  const s = index.scratch();
  try {
    exactStage(index, s, tokens, query.trim(), allowed);
    const exactMatches = s.count;
    if (fuzzy && s.count < limit) prefixStage(index, s, tokens, allowed);
    // An exact match settles the question; typo neighbours of it would only be noise (and cost the most).
    if (fuzzy && exactMatches === 0 && s.count < limit) fuzzyStage(index, s, tokens, allowed);
    return collect(index, s, limit);
  } finally {
    for (let t = 0; t < s.count; t++) s.best[s.touched[t]!] = 0;
    s.count = 0;
  }
}

function exactStage(index: LookupIndex, s: Scratch, tokens: string[], raw: string, allowed: number): void {
  const ids: number[] = [];
  let driver = -1;
  let driverSize = Number.POSITIVE_INFINITY;
  for (const token of tokens) {
    const id = tokenIdOf(index.dict, token);
    if (id < 0) return;
    ids.push(id);
    const size = index.postStart[id + 1]! - index.postStart[id]!;
    if (size < driverSize) {
      driverSize = size;
      driver = id;
    }
  }
  const fieldCount = index.fields.length;
  const k = ids.length;
  for (let p = index.postStart[driver]!, end = index.postStart[driver + 1]!; p < end; p++) {
    const slot = index.postings[p]!;
    const start = index.slotStart[slot]!;
    if (index.slotStart[slot + 1]! - start !== k) continue;
    let equal = true;
    for (let j = 0; j < k; j++) {
      if (index.slotTokens[start + j] !== ids[j]) {
        equal = false;
        break;
      }
    }
    if (!equal) continue;
    const item = (slot / fieldCount) | 0;
    if (index.statusCodes[item]! >= allowed) continue;
    const isRawId = slot % fieldCount === 0 && index.ids[item] === raw;
    record(s, item, slot, isRawId ? EXACT_ID_SCORE : EXACT_SCORE, TYPE_EXACT);
  }
}

function prefixStage(index: LookupIndex, s: Scratch, tokens: string[], allowed: number): void {
  const matchers: TokenMatcher[] = [];
  for (let j = 0; j < tokens.length; j++) {
    const token = tokens[j]!;
    const last = j === tokens.length - 1;
    let lo: number;
    let hi: number;
    if (last) [lo, hi] = prefixRange(index.dict, token);
    else {
      lo = tokenIdOf(index.dict, token);
      if (lo < 0) return;
      hi = lo + 1;
    }
    if (lo >= hi) return;
    matchers.push({
      exact: last ? tokenIdOf(index.dict, token) : lo,
      lo,
      hi,
      prefixBase: 0.5,
      prefixSpan: 0.5,
      length: token.length,
      typos: undefined,
      reach: index.postStart[hi]! - index.postStart[lo]!,
    });
  }
  const driver = cheapest(matchers);
  scanRange(index, s, matchers, driver.lo, driver.hi, allowed, PREFIX_BASE, PREFIX_SPAN, TYPE_PREFIX);
}

function fuzzyStage(index: LookupIndex, s: Scratch, tokens: string[], allowed: number): void {
  // Prefix ranges are two binary searches; typo candidates cost more. Give up early when a short token (no typos
  // allowed) has no prefix match at all.
  const ranges = tokens.map((token) => prefixRange(index.dict, token));
  for (let j = 0; j < tokens.length; j++) {
    const [lo, hi] = ranges[j]!;
    if (lo >= hi && maxTypos(tokens[j]!.length) === 0) return;
  }
  const matchers: TokenMatcher[] = [];
  for (let j = 0; j < tokens.length; j++) {
    const token = tokens[j]!;
    const last = j === tokens.length - 1;
    const [lo, hi] = ranges[j]!;
    const distance = maxTypos(token.length);
    let typos: Map<number, number> | undefined;
    let reach = index.postStart[hi]! - index.postStart[lo]!;
    if (distance > 0) {
      typos = new Map();
      for (const [id, d] of index.typos(token, distance)) {
        if (d === 0) continue;
        typos.set(id, TYPO_QUALITY[d] ?? 0.5);
        if (id < lo || id >= hi) reach += index.postStart[id + 1]! - index.postStart[id]!;
      }
    }
    if (lo >= hi && (typos === undefined || typos.size === 0)) return;
    matchers.push({
      exact: tokenIdOf(index.dict, token),
      lo,
      hi,
      // A finished word that is only the start of another ("sara" of "sarah") is weaker evidence than the last,
      // still-being-typed word.
      prefixBase: last ? 0.5 : 0.35,
      prefixSpan: last ? 0.5 : 0.4,
      length: token.length,
      typos,
      reach,
    });
  }
  const driver = cheapest(matchers);
  scanRange(index, s, matchers, driver.lo, driver.hi, allowed, FUZZY_BASE, FUZZY_SPAN, TYPE_FUZZY);
  if (driver.typos) {
    for (const id of driver.typos.keys()) {
      if (id >= driver.lo && id < driver.hi) continue;
      scanRange(index, s, matchers, id, id + 1, allowed, FUZZY_BASE, FUZZY_SPAN, TYPE_FUZZY);
    }
  }
}

function cheapest(matchers: readonly TokenMatcher[]): TokenMatcher {
  let best = matchers[0]!;
  for (const m of matchers) if (m.reach < best.reach) best = m;
  return best;
}

/** Scores every slot posted under dictionary ids [lo, hi) (except ID slots: IDs match exactly or not at all). */
function scanRange(
  index: LookupIndex,
  s: Scratch,
  matchers: readonly TokenMatcher[],
  lo: number,
  hi: number,
  allowed: number,
  base: number,
  span: number,
  type: number,
): void {
  if (lo >= hi) return;
  const fieldCount = index.fields.length;
  const floor = base + span;
  for (let p = index.postStart[lo]!, end = index.postStart[hi]!; p < end; p++) {
    const slot = index.postings[p]!;
    const field = slot % fieldCount;
    if (field === 0) continue;
    const item = (slot - field) / fieldCount;
    if (index.statusCodes[item]! >= allowed) continue;
    // Already matched in a better band: nothing here can beat it.
    if (s.best[item]! >= floor) continue;
    const raw = scoreSlot(index, slot, matchers, s.used);
    if (raw < 0) continue;
    record(s, item, slot, round(base + span * raw * fieldWeight(field)), type);
  }
}

function collect(index: LookupIndex, s: Scratch, limit: number): { ranked: Ranked[]; ambiguous: boolean } {
  let bestScore = 0;
  let bestType = TYPE_EXACT;
  let ties = 0;
  const ofType = [0, 0, 0, 0];
  const top: number[] = [];
  const before = (a: number, b: number): boolean => {
    const sa = s.best[a]!;
    const sb = s.best[b]!;
    if (sa !== sb) return sa > sb;
    const na = index.names[a]!;
    const nb = index.names[b]!;
    if (na !== nb) return na < nb;
    return index.ids[a]! < index.ids[b]!;
  };
  for (let t = 0; t < s.count; t++) {
    const item = s.touched[t]!;
    const score = s.best[item]!;
    const type = s.type[item]!;
    ofType[type] = (ofType[type] ?? 0) + 1;
    if (score > bestScore) {
      bestScore = score;
      bestType = type;
      ties = 1;
    } else if (score === bestScore) ties++;
    if (top.length === limit && !before(item, top[limit - 1]!)) continue;
    let at = top.length;
    while (at > 0 && before(item, top[at - 1]!)) at--;
    top.splice(at, 0, item);
    if (top.length > limit) top.pop();
  }
  const fieldCount = index.fields.length;
  const ranked = top.map((item) => ({
    item,
    score: s.best[item]!,
    field: s.slot[item]! % fieldCount,
    type: s.type[item]!,
  }));
  const ambiguous = bestType === TYPE_EXACT ? ties > 1 : (ofType[bestType] ?? 0) > 1;
  return { ranked, ambiguous };
}

/**
 * Items where every token of `search` is a prefix of some token of the item (ID, name fallback or any lookup field),
 * in index order. For the list route's `search`; an empty search (no letters or digits) matches everything.
 */
export function searchItems(index: LookupIndex, search: string): number[] {
  const tokens = tokenize(search).slice(0, MAX_QUERY_TOKENS);
  if (tokens.length === 0) return Array.from({ length: index.size }, (_, i) => i);
  const ranges = tokens.map((t) => prefixRange(index.dict, t));
  let driver = 0;
  let driverSize = Number.POSITIVE_INFINITY;
  for (let j = 0; j < ranges.length; j++) {
    const [lo, hi] = ranges[j]!;
    if (lo >= hi) return [];
    const size = index.postStart[hi]! - index.postStart[lo]!;
    if (size < driverSize) {
      driverSize = size;
      driver = j;
    }
  }
  const fieldCount = index.fields.length;
  const [dlo, dhi] = ranges[driver]!;
  const s = index.scratch();
  const out: number[] = [];
  try {
    for (let p = index.postStart[dlo]!, end = index.postStart[dhi]!; p < end; p++) {
      const item = (index.postings[p]! / fieldCount) | 0;
      if (s.best[item] !== 0) continue;
      s.best[item] = 1;
      s.touched[s.count++] = item;
      if (ranges.every(([lo, hi]) => itemHasTokenIn(index, item, lo, hi))) out.push(item);
    }
  } finally {
    for (let t = 0; t < s.count; t++) s.best[s.touched[t]!] = 0;
    s.count = 0;
  }
  return out.sort((a, b) => a - b);
}

function itemHasTokenIn(index: LookupIndex, item: number, lo: number, hi: number): boolean {
  const fieldCount = index.fields.length;
  const start = index.slotStart[item * fieldCount]!;
  const end = index.slotStart[(item + 1) * fieldCount]!;
  for (let p = start; p < end; p++) {
    const t = index.slotTokens[p]!;
    if (t >= lo && t < hi) return true;
  }
  return false;
}
