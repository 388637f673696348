import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ItemStatus } from "../../../shared/domain/entities.js";
import { buildLookupIndex, type LookupSourceItem } from "../../../shared/lookup/index.js";
import { lookup, lookupItems } from "../../../shared/lookup/ranking.js";
import { searchItems } from "../../../shared/lookup/search.js";
import { boundedDistance, maxTypos, typoCandidates } from "../../../shared/lookup/typo-search.js";

function user(id: string, name: string, extra: Record<string, string> = {}, status: ItemStatus = "active") {
  return {
    externalId: id,
    name,
    lookup: { "profile.real_name": name, ...extra },
    metadata: { team: `team-${id}` },
    status,
  } satisfies LookupSourceItem;
}

const people = [
  user("U1", "Derek Osgood", { "profile.email": "derek@example.com" }),
  user("U2", "Sarah Chen", { "profile.email": "sarah.chen@example.com" }),
  user("U3", "Sarah Connor", { "profile.email": "sconnor@example.com" }),
];
const fields = ["profile.real_name", "profile.email"];

describe("lookup: the required examples", () => {
  const index = buildLookupIndex(people, { fuzzy: true, fields });

  it("finds Derek Osgood from 'derek' as a prefix match", () => {
    const result = lookup(index, "derek");
    expect(result.matches.map((m) => m.id)).toEqual(["U1"]);
    expect(result.matches[0]).toMatchObject({
      name: "Derek Osgood",
      matchType: "prefix",
      matchedField: "profile.real_name",
      metadata: { team: "team-U1" },
    });
    expect(result.ambiguous).toBe(false);
  });

  it("finds Sarah Chen from 'sara chen' as a fuzzy match, not ambiguous", () => {
    const result = lookup(index, "sara chen");
    expect(result.matches[0]).toMatchObject({ id: "U2", name: "Sarah Chen", matchType: "fuzzy" });
    expect(result.matches.map((m) => m.id)).not.toContain("U3");
    expect(result.ambiguous).toBe(false);
  });

  it("reports 'sarah' as ambiguous between the two Sarahs", () => {
    const result = lookup(index, "sarah");
    expect(result.ambiguous).toBe(true);
    expect(result.matches.slice(0, 2).map((m) => m.id)).toEqual(["U2", "U3"]);
    expect(result.matches[0]?.score).toBe(result.matches[1]?.score);
  });

  it("finds channel 'general' exactly from '#general'", () => {
    const channels = buildLookupIndex(
      [
        { externalId: "C1", name: "general", lookup: { name: "general" }, status: "active" as const },
        {
          externalId: "C2",
          name: "general-announcements",
          lookup: { name: "general-announcements" },
          status: "active" as const,
        },
      ],
      { fields: ["name"] },
    );
    const result = lookup(channels, "#general");
    expect(result.matches[0]).toMatchObject({ id: "C1", matchType: "exact", score: 0.99 });
    expect(result.matches[1]).toMatchObject({ id: "C2", matchType: "prefix" });
    expect(result.ambiguous).toBe(false);
  });

  it("matches 'Zoë' to 'zoe' and 'zoe' to 'Zoë' exactly", () => {
    const a = buildLookupIndex([user("U9", "zoe")], { fields });
    const b = buildLookupIndex([user("U9", "Zoë")], { fields });
    expect(lookup(a, "Zoë").matches[0]).toMatchObject({ id: "U9", matchType: "exact" });
    expect(lookup(b, "zoe").matches[0]).toMatchObject({ id: "U9", matchType: "exact" });
  });
});

describe("lookup: exact matches", () => {
  const index = buildLookupIndex([...people, user("U4", "Derek"), user("u1", "Lower Case Twin")], {
    fuzzy: true,
    fields,
  });

  it("scores a raw external ID match 1 and a case-folded one 0.99", () => {
    const raw = lookup(index, "U1");
    expect(raw.matches[0]).toMatchObject({ id: "U1", score: 1, matchType: "exact", matchedField: "id" });
    expect(raw.matches[1]).toMatchObject({ id: "u1", score: 0.99 });
    expect(raw.ambiguous).toBe(false);
  });

  it("matches any lookup field exactly, e.g. the email", () => {
    const result = lookup(index, "Sarah.Chen@Example.com");
    expect(result.matches[0]).toMatchObject({ id: "U2", matchType: "exact", matchedField: "profile.email" });
  });

  it("ranks an exact match above prefix matches of the same word", () => {
    const result = lookup(index, "derek");
    expect(result.matches.map((m) => [m.id, m.matchType])).toEqual([
      ["U4", "exact"],
      ["U1", "prefix"],
    ]);
    expect(result.ambiguous).toBe(false);
  });

  it("does not look for typos once something matched exactly", () => {
    const withNeighbour = buildLookupIndex([user("A", "Sarah"), user("B", "Sara")], { fields });
    expect(lookup(withNeighbour, "sarah").matches.map((m) => m.id)).toEqual(["A"]);
  });

  it("is ambiguous when two items have the same name", () => {
    const twins = buildLookupIndex([user("A", "Alex Kim"), user("B", "Alex Kim"), user("C", "Alex Kimball")], {
      fields,
    });
    const result = lookup(twins, "alex kim");
    expect(result.ambiguous).toBe(true);
    expect(result.matches.slice(0, 2).map((m) => m.matchType)).toEqual(["exact", "exact"]);
  });
});

describe("lookup: ambiguity (an agent must not act on a guess)", () => {
  it("is ambiguous when the best match is not exact and another item matches with the same match type", () => {
    const index = buildLookupIndex([user("A", "Sarah Chen"), user("B", "Sarah Connor Smith")], { fields });
    const result = lookup(index, "sarah c");
    expect(result.matches.map((m) => m.matchType)).toEqual(["prefix", "prefix"]);
    expect(result.matches[0]!.score).not.toBe(result.matches[1]!.score);
    expect(result.ambiguous).toBe(true);
  });

  it("is not ambiguous when the others only match in a weaker way", () => {
    const index = buildLookupIndex([user("A", "Sarah Chen"), user("B", "Sara Lee")], { fields });
    const result = lookup(index, "sarah");
    expect(result.matches.map((m) => [m.id, m.matchType])).toEqual([
      ["A", "prefix"],
      ["B", "fuzzy"],
    ]);
    expect(result.ambiguous).toBe(false);
  });

  it("never calls a single exact match ambiguous, however many prefix matches follow", () => {
    const index = buildLookupIndex([user("A", "Sam"), user("B", "Samantha"), user("C", "Sam Stone")], { fields });
    const result = lookup(index, "sam");
    expect(result.matches[0]).toMatchObject({ id: "A", matchType: "exact" });
    expect(result.matches.length).toBe(3);
    expect(result.ambiguous).toBe(false);
  });

  it("is ambiguous when two items match the same fuzzy way", () => {
    const index = buildLookupIndex([user("A", "Christopher Lewis"), user("B", "Christopher Lewin")], { fields });
    const result = lookup(index, "christpoher lewi");
    expect(result.matches.length).toBe(2);
    expect(result.ambiguous).toBe(true);
  });
});

describe("lookup: prefix matches", () => {
  const index = buildLookupIndex(
    [user("U1", "Derek Osgood"), user("U2", "Sarah Chen"), user("U3", "Chen Wei"), user("U4", "Saraswati Rao")],
    { fuzzy: true, fields },
  );

  it("completes the last word as typed", () => {
    expect(lookup(index, "derek os").matches[0]).toMatchObject({ id: "U1", matchType: "prefix" });
  });

  it("ignores word order but prefers a match on the first word", () => {
    const result = lookup(index, "chen");
    expect(result.matches.map((m) => m.id)).toEqual(["U3", "U2"]);
    expect(result.matches[0]!.score).toBeGreaterThan(result.matches[1]!.score);
    expect(lookup(index, "osgood derek").matches[0]).toMatchObject({ id: "U1", matchType: "prefix" });
  });

  it("prefers the word the prefix covers more of, and still calls two prefix matches ambiguous", () => {
    const result = lookup(index, "sara");
    expect(result.matches.map((m) => m.id)).toEqual(["U2", "U4"]);
    expect(result.matches[0]!.score).toBeGreaterThan(result.matches[1]!.score);
    expect(result.ambiguous).toBe(true);
  });

  it("keeps every score of a band inside it: exact > prefix > fuzzy", () => {
    const scores = ["derek", "derek o", "sarah chen", "chen"].flatMap((q) => lookup(index, q).matches);
    for (const m of scores) {
      if (m.matchType === "exact") expect(m.score).toBeGreaterThanOrEqual(0.99);
      if (m.matchType === "prefix") expect(m.score).toBeGreaterThanOrEqual(0.5);
      if (m.matchType === "prefix") expect(m.score).toBeLessThan(0.99);
    }
    const fuzzy = lookup(index, "dreek").matches[0];
    expect(fuzzy).toMatchObject({ id: "U1", matchType: "fuzzy" });
    expect(fuzzy!.score).toBeLessThan(0.5);
  });

  it("does not prefix-match external IDs", () => {
    const ids = buildLookupIndex([user("CHANNEL123", "random")], { fields });
    expect(lookup(ids, "channel").matches).toEqual([]);
    expect(lookup(ids, "channel123").matches[0]).toMatchObject({ matchType: "exact", matchedField: "id" });
  });
});

describe("lookup: typo tolerance", () => {
  const index = buildLookupIndex([user("U1", "Christopher Lewis"), user("U2", "Sarah Chen"), user("U3", "Dan Brown")], {
    fuzzy: true,
    fields,
  });

  it.each([
    ["sarha", "U2"],
    ["sarh chen", "U2"],
    ["christpoher", "U1"],
    ["chrstophr lewis", "U1"],
    ["lewsi", "U1"],
  ])("finds %j", (query, id) => {
    expect(lookup(index, query).matches[0]).toMatchObject({ id, matchType: "fuzzy" });
  });

  it("allows no typo in words of three letters or fewer", () => {
    expect(lookup(index, "dab").matches).toEqual([]);
  });

  it("allows one typo in words of 4-7 letters and two from 8", () => {
    expect(maxTypos(3)).toBe(0);
    expect(maxTypos(4)).toBe(1);
    expect(maxTypos(7)).toBe(1);
    expect(maxTypos(8)).toBe(2);
    expect(lookup(index, "saxxh").matches).toEqual([]);
    expect(lookup(index, "chxxstopher").matches[0]).toMatchObject({ id: "U1" });
    expect(lookup(index, "chxxxtopher").matches).toEqual([]);
  });

  it("requires every word of the query to match", () => {
    expect(lookup(index, "sarah zzzzzz").matches).toEqual([]);
  });

  it("matches only exactly when the source has fuzzy matching off", () => {
    const strict = buildLookupIndex([user("U1", "Derek Osgood")], { fuzzy: false, fields });
    expect(lookup(strict, "derek").matches).toEqual([]);
    expect(lookup(strict, "dreek osgood").matches).toEqual([]);
    expect(lookup(strict, "DEREK  osgood").matches[0]).toMatchObject({ id: "U1", matchType: "exact" });
    expect(lookup(strict, "derek", { fuzzy: true }).matches[0]).toMatchObject({ id: "U1" });
  });
});

describe("lookup: statuses, limits and fields", () => {
  const index = buildLookupIndex(
    [
      user("U1", "Pat Active"),
      user("U2", "Pat Gone", {}, "inactive"),
      user("U3", "Pat Deleted", {}, "deleted"),
      ...Array.from({ length: 10 }, (_, i) => user(`P${i}`, `Pat Number${i}`)),
    ],
    { fuzzy: true, fields },
  );

  it("excludes inactive and deleted items unless asked", () => {
    expect(lookup(index, "pat gone").matches).toEqual([]);
    expect(lookup(index, "pat deleted").matches).toEqual([]);
    expect(lookup(index, "pat gone", { includeInactive: true }).matches[0]).toMatchObject({ id: "U2" });
    expect(lookup(index, "pat deleted", { includeInactive: true }).matches[0]).toMatchObject({ id: "U3" });
  });

  it("returns at most `limit` matches, 5 by default, and judges ambiguity over all of them", () => {
    expect(lookup(index, "pat").matches).toHaveLength(5);
    expect(lookup(index, "pat", { limit: 8 }).matches).toHaveLength(8);
    const one = lookup(index, "pat", { limit: 1 });
    expect(one.matches).toHaveLength(1);
    expect(one.ambiguous).toBe(true);
  });

  it("orders ties by name, then ID", () => {
    const names = lookup(index, "pat", { limit: 11 }).matches.map((m) => m.name);
    expect(names).toEqual([...names].sort());
  });

  it("returns no matches for a query without letters or digits", () => {
    expect(lookup(index, "#@!")).toEqual({ matches: [], ambiguous: false });
    expect(lookup(buildLookupIndex([]), "pat")).toEqual({ matches: [], ambiguous: false });
  });

  it("falls back to the name for items stored without lookup values", () => {
    const bare = buildLookupIndex([{ externalId: "R1", name: "frontend", status: "active" as const }]);
    expect(lookup(bare, "frontend").matches[0]).toMatchObject({ id: "R1", matchedField: "name" });
  });

  it("weighs the first configured lookup field above later ones", () => {
    const twoFields = buildLookupIndex(
      [
        { externalId: "A", name: "A", lookup: { display: "Morgan Lee", handle: "x" }, status: "active" as const },
        { externalId: "B", name: "B", lookup: { display: "y", handle: "Morgan Lee" }, status: "active" as const },
      ],
      { fields: ["display", "handle"] },
    );
    const result = lookup(twoFields, "morgan");
    expect(result.matches.map((m) => [m.id, m.matchedField])).toEqual([
      ["A", "display"],
      ["B", "handle"],
    ]);
  });

  it("lookupItems returns index positions in rank order", () => {
    const positions = lookupItems(index, "pat number3");
    expect(positions[0]).toBe(6);
  });
});

describe("searchItems", () => {
  const index = buildLookupIndex(
    [
      user("U1", "Derek Osgood", { "profile.email": "derek@acme.io" }),
      user("U2", "Sarah Chen", { "profile.email": "schen@acme.io" }),
      user("U3", "Sarah Connor", { "profile.email": "sconnor@other.org" }),
    ],
    { fields },
  );

  it("keeps items where every word prefixes some token of the item, in index order", () => {
    expect(searchItems(index, "sar")).toEqual([1, 2]);
    expect(searchItems(index, "sarah acme")).toEqual([1]);
    expect(searchItems(index, "u3")).toEqual([2]);
    expect(searchItems(index, "zzz")).toEqual([]);
  });

  it("matches everything for a search without letters or digits", () => {
    expect(searchItems(index, "#")).toEqual([0, 1, 2]);
  });
});

describe("byName", () => {
  it("orders by folded name, then ID", () => {
    const index = buildLookupIndex([user("3", "zed"), user("2", "Émile"), user("1", "emile"), user("0", "Adam")]);
    expect([...index.byName()].map((i) => index.ids[i])).toEqual(["0", "1", "2", "3"]);
  });
});

/** Reference optimal string alignment distance. */
function osa(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

describe("typo candidates", () => {
  const word = fc.string({ unit: fc.constantFrom("a", "b", "c", "d", "e", "r", "s"), minLength: 1, maxLength: 11 });

  it("boundedDistance agrees with the reference distance up to its bound", () => {
    fc.assert(
      fc.property(word, word, fc.integer({ min: 0, max: 3 }), (a, b, max) => {
        expect(boundedDistance(a, b, max)).toBe(Math.min(osa(a, b), max + 1));
      }),
      { numRuns: 2000 },
    );
  });

  it("the trie walk and the bigram filter both find exactly the tokens within the distance", () => {
    fc.assert(
      fc.property(fc.uniqueArray(word, { minLength: 1, maxLength: 60 }), word, (words, query) => {
        const index = buildLookupIndex(
          words.map((w, i) => ({ externalId: `id${i}`, name: w, status: "active" as const })),
        );
        const distance = Math.max(1, maxTypos(query.length));
        const expected = new Map<number, number>();
        index.dict.forEach((token, id) => {
          const d = osa(query, token);
          if (d <= distance) expected.set(id, d);
        });
        expect(typoCandidates(index.dict, query, distance)).toEqual(expected);
        expect(index.typos(query, distance)).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });

  it("finds every item by its exact name, whatever the data", () => {
    const name = fc
      .array(fc.string({ unit: fc.constantFrom("a", "b", "é", "O", " ", "-", "1"), minLength: 1, maxLength: 6 }), {
        minLength: 1,
        maxLength: 3,
      })
      .map((parts) => parts.join(" "));
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 40 }), (names) => {
        const items = names.map((n, i) => user(`X${i}`, n));
        const index = buildLookupIndex(items, { fields });
        items.forEach((item, i) => {
          if (index.slotStart[i * index.fields.length + 1] === index.slotStart[i * index.fields.length + 2]) return;
          const ids = lookup(index, item.name, { limit: 100 })
            .matches.filter((m) => m.matchType === "exact")
            .map((m) => m.id);
          expect(ids).toContain(item.externalId);
        });
      }),
      { numRuns: 200 },
    );
  });
});
