/**
 * Matching and scoring: resolves a query to the best-matching items of a LookupIndex.
 *
 * Matching, best first:
 * - `exact`: the normalised query equals a whole normalised value (ID or lookup field). A raw, case-sensitive match
 *   on the external ID scores 1, any other exact match 0.99.
 * - `prefix` (fuzzy sources only): every query token equals a token of one field, the last one possibly as a prefix
 *   (as typed: `derek os` finds "Derek Osgood"). Scored 0.5–0.95.
 * - `fuzzy` (fuzzy sources only): every query token matches a token of one field exactly, as a prefix, or within a
 *   Damerau–Levenshtein distance of 1 (tokens of 4–7 characters) or 2 (8 or more). Scored 0.1–0.49. `sara chen`
 *   finds "Sarah Chen" here: a finished word that is only the start of another is treated as a typo, not a prefix.
 *   Typo candidates come from the dictionary alone (typo-search.ts), never from scoring every item.
 * Within a band, the score grows with the share of the field's tokens matched, the quality of each token match and
 * a match on the field's first token.
 *
 * `ambiguous` (an agent must not act on a guess): when the best match is exact, true only if another item ties with
 * it (two items with the same name); when it is not exact, true whenever another item matched with the same match
 * type (every query token matched, as every stage requires), however their scores compare.
 */
import { prefixRange, tokenIdOf } from "./dictionary.js";
import {
  type LookupIndex,
  type LookupMatch,
  type LookupOptions,
  type LookupResult,
  MAX_QUERY_TOKENS,
  type MatchType,
  type Scratch,
} from "./index.js";
import { tokenize } from "./normalize.js";
import { maxTypos } from "./typo-search.js";

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

/** Within a band, a slot's raw score: the mean quality of its token matches, the share of its tokens matched, and a match on its first token. */
const SLOT_QUALITY_WEIGHT = 0.6;
const SLOT_COVERAGE_WEIGHT = 0.3;
const SLOT_FIRST_TOKEN_WEIGHT = 0.1;

/** The first lookup field (usually the display name) weighs fully; the others slightly less. */
const FIRST_FIELD_WEIGHT = 1;
const OTHER_FIELD_WEIGHT = 0.96;

/** Quality of a token match within 0, 1 or 2 typos. */
const TYPO_QUALITY: readonly number[] = [1, 0.7, 0.5];

/** Quality of a prefix match: base + span × (query token length / dictionary token length). */
const PREFIX_QUALITY_BASE = 0.5;
const PREFIX_QUALITY_SPAN = 0.5;
/** The same for a finished (not last) query word in the fuzzy stage: "sara" of "sarah" is weaker evidence. */
const FINISHED_WORD_PREFIX_BASE = 0.35;
const FINISHED_WORD_PREFIX_SPAN = 0.4;

/** Scores are rounded to this many steps per unit (three decimals). */
const SCORE_STEPS = 1000;

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
  return SLOT_QUALITY_WEIGHT * (sum / k) + SLOT_COVERAGE_WEIGHT * (k / m) + SLOT_FIRST_TOKEN_WEIGHT * first;
}

function fieldWeight(field: number): number {
  return field === 1 ? FIRST_FIELD_WEIGHT : OTHER_FIELD_WEIGHT;
}

function round(score: number): number {
  return Math.round(score * SCORE_STEPS) / SCORE_STEPS;
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
      prefixBase: PREFIX_QUALITY_BASE,
      prefixSpan: PREFIX_QUALITY_SPAN,
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
        typos.set(id, TYPO_QUALITY[d] ?? TYPO_QUALITY[TYPO_QUALITY.length - 1]!);
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
      prefixBase: last ? PREFIX_QUALITY_BASE : FINISHED_WORD_PREFIX_BASE,
      prefixSpan: last ? PREFIX_QUALITY_SPAN : FINISHED_WORD_PREFIX_SPAN,
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
