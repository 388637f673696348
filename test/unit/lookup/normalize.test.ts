import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalize, tokenize } from "../../../shared/lookup/normalize.js";

describe("normalize", () => {
  it.each([
    ["Derek Osgood", "derek osgood"],
    ["  Sarah\t\n  Chen  ", "sarah chen"],
    ["Zoë", "zoe"],
    ["Renée Ångström", "renee angstrom"],
    ["#general", "general"],
    ["@derek", "derek"],
    ["##@@ops", "ops"],
    ["sarah.chen@example.com", "sarah chen example com"],
    ["frontend-app_v2", "frontend app v2"],
    ["O'Brien", "obrien"],
    ["O’Brien", "obrien"],
    ["Straße", "strasse"],
    ["Søren Łukasz", "soren lukasz"],
    ["ＡＢＣ１２３", "abc123"],
    ["ﬁle", "file"],
    ["İstanbul", "istanbul"],
    ["北京 Office", "北京 office"],
    ["plain words 42", "plain words 42"],
  ])("folds %j to %j", (input, expected) => {
    expect(normalize(input)).toBe(expected);
  });

  it("returns an empty string when nothing searchable is left", () => {
    expect(normalize("#")).toBe("");
    expect(normalize("  -- !! ")).toBe("");
    expect(normalize("")).toBe("");
  });

  it("is idempotent", () => {
    for (const value of ["Zoë #General", "sarah.chen@example.com", "O'Brien-Smith", "ＡＢＣ"]) {
      expect(normalize(normalize(value))).toBe(normalize(value));
    }
  });
});

describe("tokenize", () => {
  it("splits the normalised value at spaces", () => {
    expect(tokenize("Sarah  Chen-Wu")).toEqual(["sarah", "chen", "wu"]);
  });

  it("has no tokens for a value without letters or digits", () => {
    expect(tokenize("#@!")).toEqual([]);
  });
});

describe("normalize: the ASCII fast path", () => {
  it("folds ASCII exactly as the Unicode path does", () => {
    // A trailing combining mark forces the Unicode path and is itself removed, so both must agree.
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)) }), (s) => {
        expect(normalize(s)).toBe(normalize(`${s}\u0301`));
      }),
      { numRuns: 2000 },
    );
  });
});
