/** The list route's word search over a LookupIndex: every query word must start a word of the item. */
import { prefixRange } from "./dictionary.js";
import { type LookupIndex, MAX_QUERY_TOKENS } from "./index.js";
import { tokenize } from "./normalize.js";

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
