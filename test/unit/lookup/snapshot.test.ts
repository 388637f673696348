import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ItemStatus } from "../../../shared/domain/entities.js";
import { buildLookupIndex, type LookupSourceItem } from "../../../shared/lookup/index.js";
import { lookup } from "../../../shared/lookup/ranking.js";
import { searchItems } from "../../../shared/lookup/search.js";
import {
  decodeIndexSnapshot,
  encodeIndexSnapshot,
  SnapshotFormatError,
  snapshotSettingsKey,
} from "../../../shared/lookup/snapshot.js";

const word = fc.string({
  unit: fc.constantFrom("a", "b", "c", "e", "é", "n", "o", "S", "1", "#"),
  minLength: 1,
  maxLength: 9,
});
const value = fc.array(word, { minLength: 1, maxLength: 4 }).map((words) => words.join(" "));
const status = fc.constantFrom<ItemStatus>("active", "active", "inactive", "deleted");
const item = fc.record({
  name: value,
  handle: fc.option(value, { nil: undefined }),
  status,
  team: fc.option(word, { nil: undefined }),
});

function itemsOf(records: { name: string; handle: string | undefined; status: ItemStatus; team?: string }[]) {
  return records.map(
    (r, i): LookupSourceItem => ({
      externalId: `X${i}`,
      name: r.name,
      lookup: r.handle === undefined ? {} : { "profile.name": r.name, handle: r.handle },
      metadata: r.team === undefined ? {} : { team: r.team, n: i },
      status: r.status,
    }),
  );
}

describe("lookup index snapshots", () => {
  it("a loaded snapshot answers every lookup and search exactly as the index it was written from", () => {
    fc.assert(
      fc.property(
        fc.array(item, { minLength: 0, maxLength: 40 }),
        fc.array(value, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (records, queries, fuzzy) => {
          const items = itemsOf(records);
          const built = buildLookupIndex(items, { fields: ["profile.name", "handle"], fuzzy });
          const loaded = decodeIndexSnapshot(encodeIndexSnapshot(built), fuzzy);
          expect(loaded.size).toBe(built.size);
          expect(loaded.fields).toEqual(built.fields);
          for (const query of [...queries, ...items.slice(0, 3).map((i) => i.name)]) {
            for (const includeInactive of [false, true]) {
              expect(lookup(loaded, query, { limit: 10, includeInactive })).toEqual(
                lookup(built, query, { limit: 10, includeInactive }),
              );
            }
            expect(searchItems(loaded, query)).toEqual(searchItems(built, query));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("keeps token ids wider than two bytes and slots longer than 255 tokens", () => {
    const many = Array.from({ length: 70_000 }, (_, i) => ({
      externalId: `I${i}`,
      name: `w${i.toString(36)}`,
      status: "active" as const,
    }));
    const long = {
      externalId: "LONG",
      name: Array.from({ length: 300 }, (_, i) => `t${i}`).join(" "),
      status: "active" as const,
    };
    const built = buildLookupIndex([...many, long]);
    const loaded = decodeIndexSnapshot(encodeIndexSnapshot(built));
    expect(lookup(loaded, "w1z2")).toEqual(lookup(built, "w1z2"));
    expect(lookup(loaded, long.name).matches[0]?.id).toBe("LONG");
  });

  it("keeps every item's metadata as it was, key order, nulls and nesting included", () => {
    const json = fc.jsonValue({ maxDepth: 2 });
    const metadata = fc.dictionary(fc.constantFrom("team", "title", "n", "__proto__", "x.y"), json, { maxKeys: 4 });
    fc.assert(
      fc.property(fc.array(metadata, { maxLength: 30 }), (rows) => {
        const items = rows.map((m, i) => ({
          externalId: `M${i}`,
          name: `n${i}`,
          metadata: m,
          status: "active" as const,
        }));
        const built = buildLookupIndex(items);
        const loaded = decodeIndexSnapshot(encodeIndexSnapshot(built));
        expect(JSON.stringify(loaded.metadata)).toBe(JSON.stringify(built.metadata));
      }),
      { numRuns: 200 },
    );
  });

  it("takes the fuzzy default it is loaded with, not the one it was written with", () => {
    const built = buildLookupIndex([{ externalId: "U1", name: "Derek Osgood", status: "active" }], { fuzzy: true });
    const strict = decodeIndexSnapshot(encodeIndexSnapshot(built), false);
    expect(lookup(built, "derek os").matches).toHaveLength(1);
    expect(lookup(strict, "derek os").matches).toHaveLength(0);
  });

  it("rejects bytes that are not a whole snapshot", () => {
    const bytes = encodeIndexSnapshot(buildLookupIndex([{ externalId: "U1", name: "Ann", status: "active" }]));
    expect(() => decodeIndexSnapshot(bytes.subarray(0, bytes.length - 1))).toThrow(SnapshotFormatError);
    expect(() => decodeIndexSnapshot(Buffer.from("{}"))).toThrow(SnapshotFormatError);
  });

  it("keys a snapshot by the lookup fields, not by the fuzzy flag", () => {
    expect(snapshotSettingsKey({ fields: ["a", "b"], fuzzy: true })).toBe(
      snapshotSettingsKey({ fields: ["a", "b"], fuzzy: false }),
    );
    expect(snapshotSettingsKey({ fields: ["a", "b"] })).not.toBe(snapshotSettingsKey({ fields: ["b", "a"] }));
    expect(snapshotSettingsKey({ fields: ["a"] })).not.toBe(snapshotSettingsKey({}));
  });
});
