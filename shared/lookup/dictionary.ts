/**
 * The sorted token dictionary of an index: a token's id is its rank, so a prefix is one contiguous id range (two
 * binary searches) and the sorted array doubles as an implicit trie for typo search.
 */
/** First index in [from, dict.length) whose token is >= key. */
export function lowerBound(dict: readonly string[], key: string, from = 0): number {
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
export const PREFIX_END = "\uffff";

export function tokenIdOf(dict: readonly string[], token: string): number {
  const i = lowerBound(dict, token);
  return dict[i] === token ? i : -1;
}

export function prefixRange(dict: readonly string[], prefix: string): [number, number] {
  const lo = lowerBound(dict, prefix);
  return [lo, lowerBound(dict, prefix + PREFIX_END, lo)];
}
