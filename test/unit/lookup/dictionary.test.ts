import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lowerBound, PREFIX_END, prefixRange, tokenIdOf } from "../../../shared/lookup/dictionary.js";

const token = fc.string({ unit: fc.constantFrom("a", "b", "c", "é", "1"), minLength: 1, maxLength: 5 });

describe("the sorted token dictionary", () => {
  it("finds a token's id and the id range of every token starting with a prefix", () => {
    fc.assert(
      fc.property(fc.uniqueArray(token, { maxLength: 50 }), token, (tokens, probe) => {
        const dict = [...tokens].sort();
        expect(tokenIdOf(dict, probe)).toBe(dict.indexOf(probe));
        const [lo, hi] = prefixRange(dict, probe);
        const expected = dict.flatMap((t, i) => (t.startsWith(probe) ? [i] : []));
        expect(Array.from({ length: hi - lo }, (_, i) => lo + i)).toEqual(expected);
        expect(lowerBound(dict, probe)).toBe(dict.filter((t) => t < probe).length);
      }),
      { numRuns: 500 },
    );
  });

  it("bounds prefixes with a character no normalised token contains", () => {
    expect(PREFIX_END).toBe("\uffff");
    expect(prefixRange(["ab", "abc", "abd", "b"], "ab")).toEqual([0, 3]);
  });
});
