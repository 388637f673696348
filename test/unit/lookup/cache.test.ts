import { describe, expect, it } from "vitest";
import type { Item } from "../../../shared/domain/entities.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { LookupIndexCache, partitionIndex } from "../../../shared/lookup/cache.js";
import { buildLookupIndex } from "../../../shared/lookup/index.js";
import { lookup } from "../../../shared/lookup/ranking.js";

const ref = (dataType: string, tenantId = "t1"): PartitionRef => ({
  tenantId,
  integrationId: "slack",
  connectionId: "default",
  dataType,
});

function items(n: number, prefix = "Item"): Item[] {
  return Array.from({ length: n }, (_, i) => ({
    externalId: `${prefix}${i}`,
    name: `${prefix} ${i}`,
    lookup: { name: `${prefix} ${i}` },
    metadata: {},
    status: "active",
    contentHash: "h",
    jobId: "j",
    change: "created",
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
  }));
}

/** An item repository that counts listSummaries calls and serves whatever `data` holds now. */
function fakeItems(data: Map<string, Item[]>) {
  const calls: string[] = [];
  return {
    calls,
    async listSummaries(r: PartitionRef) {
      calls.push(r.dataType);
      return data.get(r.dataType) ?? [];
    },
  };
}

describe("LookupIndexCache", () => {
  it("builds once per partition version and reuses the index while the version holds", async () => {
    const cache = new LookupIndexCache();
    const data = new Map([["users", items(3, "Old")]]);
    const repo = fakeItems(data);
    const first = await partitionIndex({ items: repo, cache }, ref("users"), { version: 1 });
    const second = await partitionIndex({ items: repo, cache }, ref("users"), { version: 1 });
    expect(second).toBe(first);
    expect(repo.calls).toEqual(["users"]);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1, items: 3 });
  });

  it("rebuilds when the partition's version changed", async () => {
    const cache = new LookupIndexCache();
    const data = new Map([["users", items(3, "Old")]]);
    const repo = fakeItems(data);
    const before = await partitionIndex({ items: repo, cache }, ref("users"), { version: 1 });
    data.set("users", items(2, "New"));
    const after = await partitionIndex({ items: repo, cache }, ref("users"), { version: 2 });
    expect(after).not.toBe(before);
    expect(lookup(after, "new 1").matches[0]?.id).toBe("New1");
    expect(lookup(after, "old 1").matches).toEqual([]);
    expect(cache.stats()).toMatchObject({ entries: 1, items: 2 });
  });

  it("keys entries by tenant as well as partition", async () => {
    const cache = new LookupIndexCache();
    const repo = fakeItems(new Map([["users", items(1)]]));
    await partitionIndex({ items: repo, cache }, ref("users", "t1"), { version: 1 });
    await partitionIndex({ items: repo, cache }, ref("users", "t2"), { version: 1 });
    expect(repo.calls).toHaveLength(2);
  });

  it("shares one build between concurrent requests for the same version", async () => {
    const cache = new LookupIndexCache();
    let builds = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const build = async () => {
      builds++;
      await gate;
      return buildLookupIndex(items(2));
    };
    const a = cache.get(ref("users"), 1, build);
    const b = cache.get(ref("users"), 1, build);
    release();
    expect(await a).toBe(await b);
    expect(builds).toBe(1);
  });

  it("evicts the least recently used partitions once the item bound is passed", async () => {
    const cache = new LookupIndexCache({ maxItems: 10 });
    const repo = fakeItems(
      new Map([
        ["a", items(4)],
        ["b", items(4)],
        ["c", items(4)],
      ]),
    );
    await partitionIndex({ items: repo, cache }, ref("a"), { version: 1 });
    await partitionIndex({ items: repo, cache }, ref("b"), { version: 1 });
    await partitionIndex({ items: repo, cache }, ref("a"), { version: 1 }); // a is now the most recent
    await partitionIndex({ items: repo, cache }, ref("c"), { version: 1 }); // 12 > 10: b goes
    expect(cache.stats()).toMatchObject({ entries: 2, items: 8, evictions: 1 });
    await partitionIndex({ items: repo, cache }, ref("a"), { version: 1 });
    await partitionIndex({ items: repo, cache }, ref("b"), { version: 1 });
    expect(repo.calls).toEqual(["a", "b", "c", "b"]);
  });

  it("keeps a single partition larger than the bound (it is the one being served)", async () => {
    const cache = new LookupIndexCache({ maxItems: 2 });
    const repo = fakeItems(new Map([["big", items(5)]]));
    await partitionIndex({ items: repo, cache }, ref("big"), { version: 1 });
    await partitionIndex({ items: repo, cache }, ref("big"), { version: 1 });
    expect(repo.calls).toEqual(["big"]);
  });

  it("does not cache a failed build", async () => {
    const cache = new LookupIndexCache();
    let fail = true;
    const repo = {
      async listSummaries() {
        if (fail) throw new Error("throttled");
        return items(1);
      },
    };
    await expect(partitionIndex({ items: repo, cache }, ref("users"), { version: 1 })).rejects.toThrow("throttled");
    fail = false;
    const index = await partitionIndex({ items: repo, cache }, ref("users"), { version: 1 });
    expect(index.size).toBe(1);
  });

  it("builds with the source's lookup fields and fuzzy flag", async () => {
    const cache = new LookupIndexCache();
    const repo = fakeItems(new Map([["users", items(1)]]));
    const index = await partitionIndex(
      { items: repo, cache },
      ref("users"),
      { version: 1 },
      { fields: ["name"], fuzzy: false },
    );
    expect(index.fuzzy).toBe(false);
    expect(index.fields).toEqual(["id", "name"]);
  });

  it("invalidate drops an entry", async () => {
    const cache = new LookupIndexCache();
    const repo = fakeItems(new Map([["users", items(1)]]));
    await partitionIndex({ items: repo, cache }, ref("users"), { version: 1 });
    cache.invalidate(ref("users"));
    await partitionIndex({ items: repo, cache }, ref("users"), { version: 1 });
    expect(repo.calls).toHaveLength(2);
  });
});

describe("byte bound and tenant share", () => {
  const fat = (n: number, prefix = "Fat") =>
    items(n, prefix).map((item) => ({ ...item, metadata: { bio: "x".repeat(10_000) } }));

  it("bounds the cache in bytes, not in items: a few fat items evict like many thin ones", async () => {
    const cache = new LookupIndexCache({ maxBytes: 300_000, tenantShare: 1 });
    const repo = fakeItems(
      new Map([
        ["a", fat(10)],
        ["b", fat(10)],
      ]),
    );
    await partitionIndex({ items: repo, cache }, ref("a"), { version: 1 });
    await partitionIndex({ items: repo, cache }, ref("b"), { version: 1 });
    expect(cache.stats().entries).toBe(1);
    expect(cache.stats().bytes).toBeGreaterThan(100_000);
    expect(cache.stats().bytes).toBeLessThanOrEqual(300_000);
  });

  it("never lets one tenant's indexes evict the whole cache", async () => {
    const cache = new LookupIndexCache({ maxBytes: 600_000, tenantShare: 0.5 });
    const data = new Map<string, Item[]>();
    for (let i = 0; i < 10; i++) data.set(`t${i}`, fat(10, `T${i}`));
    data.set("mine", fat(10, "Mine"));
    const repo = fakeItems(data);
    await partitionIndex({ items: repo, cache }, ref("mine", "quiet-tenant"), { version: 1 });
    for (let i = 0; i < 10; i++)
      await partitionIndex({ items: repo, cache }, ref(`t${i}`, "noisy-tenant"), { version: 1 });
    // The quiet tenant's index survived ten builds of the noisy one.
    await partitionIndex({ items: repo, cache }, ref("mine", "quiet-tenant"), { version: 1 });
    expect(repo.calls.filter((call) => call === "mine")).toHaveLength(1);
    expect(cache.stats().bytes).toBeLessThanOrEqual(600_000);
  });
});
