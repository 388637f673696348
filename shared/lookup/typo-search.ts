/**
 * Typo search over the dictionary alone (never over items): a trie walk of the sorted dictionary, and a bigram count
 * filter for longer tokens, both verified with a bounded optimal-string-alignment distance.
 */
import { lowerBound, PREFIX_END } from "./dictionary.js";

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
export interface GramIndex {
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

export function buildGramIndex(dict: readonly string[]): GramIndex {
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
export function gramTypoCandidates(
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
