/**
 * The incremental index snapshot against a full rebuild: random histories of syncs over an in-memory store (rows in
 * DynamoDB's UTF-8 key order, snapshots by version), each commit naming the items it changed, as the manifest diff does.
 * After every commit the written snapshot must decode to exactly what a full build from every stored item gives. The
 * store also plays the partition: each commit passes the snapshot id the previous one recorded, and records its own.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Item, ItemStatus } from "../../../shared/domain/entities.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { type ReferenceDataConfig, referenceDataConfigSchema } from "../../../shared/domain/source-config.js";
import { assembleLookupIndex } from "../../../shared/lookup/index.js";
import { lookup } from "../../../shared/lookup/ranking.js";
import { decodeSnapshotContent } from "../../../shared/lookup/snapshot.js";
import {
  compareStoredOrder,
  FULL_REBUILD_AFTER_MS,
  type SnapshotCommit,
  type SnapshotWriterDeps,
  writeIndexSnapshot,
} from "../../../shared/lookup/snapshot-writer.js";
import type { IndexSnapshot } from "../../../shared/storage/ports.js";
import { comparable, fullRebuild } from "../../support/index-snapshot.js";

const REF: PartitionRef = { tenantId: "t", integrationId: "i", connectionId: "c", dataType: "users" };
const FIELDS = ["profile.name", "handle"];

function configWith(lookupFields: string[]): ReferenceDataConfig {
  return referenceDataConfigSchema.parse({ dataType: "users", extractionPath: "$.members[*]", lookupFields });
}

/** Item rows and snapshots in memory; rows listed in DynamoDB's order (UTF-8 bytes of the key). */
function memoryStore() {
  const rows = new Map<string, Item>();
  const snapshots = new Map<number, IndexSnapshot>();
  const reads = { listSummaries: 0, getMany: 0, snapshots: 0, eventual: 0 };
  let writes = 0;
  const utf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
  const summaries = () => [...rows.values()].sort((a, b) => utf8(a.externalId, b.externalId));
  const deps: SnapshotWriterDeps = {
    repos: {
      items: {
        listSummaries: async (_ref, options) => {
          reads.listSummaries++;
          if (options?.consistent !== true) reads.eventual++;
          return summaries();
        },
        getMany: async (_ref, ids, options) => {
          reads.getMany += ids.length;
          if (options?.consistent !== true) reads.eventual++;
          return ids.flatMap((id) => rows.get(id) ?? []);
        },
      },
      indexSnapshots: {
        write: async (_ref, version, bytes, settingsKey) => {
          const snapshotId = `write-${++writes}`;
          snapshots.set(version, { bytes, settingsKey, snapshotId });
          return { chunks: 1, storedBytes: bytes.length, snapshotId };
        },
        read: async (_ref, version) => {
          reads.snapshots++;
          return snapshots.get(version);
        },
        stampOf: async (_ref, version) => snapshots.get(version),
        deleteOlderThan: async (_ref, version) => {
          for (const v of snapshots.keys()) if (v < version) snapshots.delete(v);
        },
        delete: async (_ref, version) => {
          snapshots.delete(version);
        },
      },
    },
    lease: { assertHeld: () => {} },
    log: { info: () => {}, warn: () => {} },
    maxChangedShare: 1,
  };
  const store = {
    rows,
    snapshots,
    reads,
    deps,
    summaries,
    /** The snapshot id the partition records (the last commit's). */
    recorded: undefined as string | undefined,
    /** A commit: the snapshot written on the recorded one, then recorded in its place. */
    async commit(commit: Omit<SnapshotCommit, "previousSnapshotId">, config: ReferenceDataConfig, with_ = deps) {
      const written = await writeIndexSnapshot(with_, REF, { ...commit, previousSnapshotId: store.recorded }, config);
      store.recorded = written.snapshotId;
      return written.build;
    },
  };
  return store;
}

// Values mix plain words, accents, an all-punctuation value (no tokens), "" and `℡` (which folds to `TEL`, a token a
// second normalisation would change: the incremental build must reuse tokens, never re-fold them).
const word = fc.string({ unit: fc.constantFrom("a", "b", "é", "n", "S", "1", "#", "℡"), minLength: 0, maxLength: 6 });
const value = fc.array(word, { minLength: 1, maxLength: 3 }).map((words) => words.join(" "));
// IDs across the code points where UTF-16 and UTF-8 order disagree (a surrogate pair vs U+E000 and up).
const id = fc
  .tuple(fc.constantFrom("A", "b", "é", "😀", "\uE000", "\uFF21"), fc.integer({ min: 0, max: 30 }))
  .map(([prefix, n]) => `${prefix}${n}`);
/** An item's content: lookup values of the configured fields, another key, or none (the name stands in). */
const content = fc.record({
  name: value,
  lookup: fc.oneof(
    fc.constant({}),
    fc.record({ "profile.name": value, handle: value }),
    fc.record({ handle: value }),
    fc.record({ legacy: value, "profile.name": value }),
  ),
  team: fc.option(word, { nil: undefined }),
});
const status = fc.constantFrom<ItemStatus>("active", "active", "inactive", "deleted");
/** One change a sync makes: write an item (create, update, rename, reactivate), change its status, or lose its row. */
const change = fc.oneof(
  fc.record({ kind: fc.constant("put" as const), id, content, status }),
  fc.record({ kind: fc.constant("status" as const), id, status }),
  fc.record({ kind: fc.constant("gone" as const), id }),
);
const history = fc.record({
  initial: fc.array(fc.record({ id, content, status }), { minLength: 6, maxLength: 25 }),
  syncs: fc.array(fc.array(change, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }),
});

function itemOf(externalId: string, c: ContentValue, s: ItemStatus): Item {
  return {
    externalId,
    name: c.name,
    lookup: c.lookup as Record<string, string>,
    metadata: c.team === undefined ? {} : { team: c.team },
    status: s,
    contentHash: "h",
    jobId: "j",
    change: "created",
    createdAt: "",
    updatedAt: "",
  };
}
type ContentValue = { name: string; lookup: Record<string, string>; team: string | undefined };

describe("incremental index snapshots", () => {
  it("after any history of syncs, the incremental snapshot is the full rebuild's, and answers lookups the same", async () => {
    await fc.assert(
      fc.asyncProperty(
        history,
        fc.array(value, { minLength: 1, maxLength: 4 }),
        async ({ initial, syncs }, queries) => {
          const store = memoryStore();
          const config = configWith(FIELDS);
          for (const row of initial) store.rows.set(row.id, itemOf(row.id, row.content, row.status));
          let version = 1;
          let now = 1_000;
          let fullBuilds = 1;
          const write = (commit: SnapshotCommit) => store.commit(commit, config);
          expect(await write({ version, previousVersion: 0, changed: undefined, now })).toBe("full");
          for (const sync of syncs) {
            const changed = new Set<string>();
            const previousSize = store.rows.size;
            for (const step of sync) {
              const row = store.rows.get(step.id);
              if (step.kind === "put") store.rows.set(step.id, itemOf(step.id, step.content, step.status));
              else if (step.kind === "status" && row) store.rows.set(step.id, { ...row, status: step.status });
              else if (step.kind === "gone") store.rows.delete(step.id);
              changed.add(step.id);
            }
            now += 60_000;
            const commit = { version: version + 1, previousVersion: version, changed: [...changed], now };
            version++;
            // maxChangedShare 1: a full build only when more items changed than the previous snapshot had.
            const build = changed.size > previousSize ? "full" : "incremental";
            if (build === "full") fullBuilds++;
            expect(await write(commit)).toBe(build);
            const written = decodeSnapshotContent(store.snapshots.get(version)?.bytes ?? new Uint8Array());
            const expected = fullRebuild(store.summaries(), FIELDS);
            expect(comparable(written)).toEqual(comparable(expected));
            const incrementalIndex = assembleLookupIndex(written.core);
            const fullIndex = assembleLookupIndex(expected.core);
            for (const query of [
              ...queries,
              ...store
                .summaries()
                .slice(0, 2)
                .map((item) => item.name),
            ]) {
              expect(lookup(incrementalIndex, query, { limit: 10, includeInactive: true })).toEqual(
                lookup(fullIndex, query, { limit: 10, includeInactive: true }),
              );
            }
          }
          // Every item was read only by the full builds; the incremental ones read the changed items alone.
          expect(store.reads.listSummaries).toBe(fullBuilds);
          // Both read what this sync just wrote: consistently, or a stale row would be carried forward for a day.
          expect(store.reads.eventual).toBe(0);
        },
      ),
      { numRuns: 120 },
    );
  });

  it("falls back to reading every item when the previous snapshot cannot be built on", async () => {
    const store = memoryStore();
    const config = configWith(FIELDS);
    for (let n = 0; n < 40; n++) {
      store.rows.set(
        `U${n}`,
        itemOf(`U${n}`, { name: `User ${n}`, lookup: { handle: `u${n}` }, team: undefined }, "active"),
      );
    }
    const deps = { ...store.deps, maxChangedShare: 0.05 };
    const write = (commit: SnapshotCommit, c = config) => store.commit(commit, c, deps);
    expect(await write({ version: 1, previousVersion: 0, changed: undefined, now: 0 })).toBe("full");
    expect(await write({ version: 2, previousVersion: 1, changed: ["U1", "U2"], now: 1 })).toBe("incremental");
    // More than the share changed.
    expect(await write({ version: 3, previousVersion: 2, changed: ["U1", "U2", "U3"], now: 2 })).toBe("full");
    // The changed set is unknown (the committed manifest was rebuilt from the rows).
    expect(await write({ version: 4, previousVersion: 3, changed: undefined, now: 3 })).toBe("full");
    // The chain of incremental snapshots began too long ago.
    expect(await write({ version: 5, previousVersion: 4, changed: ["U1"], now: 4 })).toBe("incremental");
    expect(await write({ version: 6, previousVersion: 5, changed: ["U1"], now: 3 + FULL_REBUILD_AFTER_MS })).toBe(
      "full",
    );
    // The previous version's snapshot is unreadable.
    store.snapshots.set(6, { ...store.snapshots.get(6)!, bytes: Buffer.from("RDIX-torn") });
    expect(await write({ version: 7, previousVersion: 6, changed: ["U1"], now: 5 + FULL_REBUILD_AFTER_MS })).toBe(
      "full",
    );
    // Other lookup fields: the previous snapshot is not built on, and the new one is for the new fields.
    const other = configWith(["handle"]);
    expect(
      await write({ version: 8, previousVersion: 7, changed: ["U1"], now: 6 + FULL_REBUILD_AFTER_MS }, other),
    ).toBe("full");
    expect(decodeSnapshotContent(store.snapshots.get(8)?.bytes ?? new Uint8Array()).core.fields).toEqual([
      "id",
      "handle",
    ]);
    // An unchanged resync keeps the version's snapshot.
    expect(await write({ version: 8, previousVersion: 8, changed: [], now: 7 + FULL_REBUILD_AFTER_MS }, other)).toBe(
      "kept",
    );
    expect(store.reads.listSummaries).toBe(6);
  });

  it("does not read the previous snapshot when the previous item count already says too many changed", async () => {
    const store = memoryStore();
    for (let n = 0; n < 40; n++) {
      store.rows.set(`U${n}`, itemOf(`U${n}`, { name: `User ${n}`, lookup: {}, team: undefined }, "active"));
    }
    const deps = { ...store.deps, maxChangedShare: 0.05 };
    const write = (commit: SnapshotCommit) => store.commit(commit, configWith(FIELDS), deps);
    expect(await write({ version: 1, previousVersion: 0, changed: undefined, now: 0 })).toBe("full");
    const changed = ["U1", "U2", "U3"];
    expect(await write({ version: 2, previousVersion: 1, changed, previousCount: 40, now: 1 })).toBe("full");
    expect(store.reads.snapshots).toBe(0);
    expect(await write({ version: 3, previousVersion: 2, changed: ["U1"], previousCount: 40, now: 2 })).toBe(
      "incremental",
    );
    expect(store.reads.snapshots).toBe(1);
  });

  it("keeps and builds on only the snapshot the previous commit recorded", async () => {
    const store = memoryStore();
    const config = configWith(FIELDS);
    for (let n = 0; n < 10; n++) {
      store.rows.set(`U${n}`, itemOf(`U${n}`, { name: `User ${n}`, lookup: {}, team: undefined }, "active"));
    }
    expect(await store.commit({ version: 1, previousVersion: 0, changed: undefined, now: 0 }, config)).toBe("full");
    // Another writer's snapshot under the committed version (a worker that lost its lease): same settings, other id.
    const recorded = store.recorded;
    const other = { ...store.snapshots.get(1)!, snapshotId: "another-writer" };
    store.snapshots.set(1, other);
    expect(await store.commit({ version: 2, previousVersion: 1, changed: ["U1"], now: 1 }, config)).toBe("full");
    expect(store.recorded).not.toBe(recorded);
    store.snapshots.set(2, { ...store.snapshots.get(2)!, snapshotId: "another-writer" });
    // An unchanged resync rewrites a version whose stored snapshot is not the recorded one, and keeps one that is.
    expect(await store.commit({ version: 2, previousVersion: 2, changed: [], now: 2 }, config)).toBe("full");
    const rewritten = store.recorded;
    expect(store.snapshots.get(2)?.snapshotId).toBe(rewritten);
    expect(await store.commit({ version: 2, previousVersion: 2, changed: [], now: 3 }, config)).toBe("kept");
    expect(store.recorded).toBe(rewritten);
    expect(await store.commit({ version: 3, previousVersion: 2, changed: ["U2"], now: 4 }, config)).toBe("incremental");
  });

  it("a failed write records no snapshot and removes none, so neither a crashed attempt's nor a new owner's is lost or served", async () => {
    const store = memoryStore();
    const config = configWith(FIELDS);
    store.rows.set("U1", itemOf("U1", { name: "Ann", lookup: {}, team: undefined }, "active"));
    await store.commit({ version: 1, previousVersion: 0, changed: undefined, now: 0 }, config);
    const leftover: IndexSnapshot = { bytes: Buffer.from("another writer's"), settingsKey: "x", snapshotId: "other" };
    store.snapshots.set(2, leftover);
    store.deps.repos.items.listSummaries = async () => {
      throw new Error("throttled");
    };
    const commit = { version: 2, previousVersion: 1, changed: undefined, now: 1 };

    expect(await store.commit(commit, config)).toBe("failed");
    expect(store.recorded).toBeUndefined();
    expect(store.snapshots.get(2)).toBe(leftover);
  });

  it("checks the lease right before writing: a worker that lost it writes nothing", async () => {
    const store = memoryStore();
    const config = configWith(FIELDS);
    store.rows.set("U1", itemOf("U1", { name: "Ann", lookup: {}, team: undefined }, "active"));
    await store.commit({ version: 1, previousVersion: 0, changed: undefined, now: 0 }, config);
    const newOwners: IndexSnapshot = { ...store.snapshots.get(1)!, snapshotId: "new-owner" };
    store.snapshots.set(2, newOwners);
    let held = true;
    const deps = {
      ...store.deps,
      lease: {
        assertHeld: () => {
          if (!held) throw new Error("lease lost");
        },
      },
    };
    const rows = deps.repos.items;
    // The lease runs out while the index is built.
    deps.repos = {
      ...deps.repos,
      items: {
        ...rows,
        getMany: async (...args) => {
          held = false;
          return rows.getMany(...args);
        },
      },
    };

    expect(await store.commit({ version: 2, previousVersion: 1, changed: ["U1"], now: 1 }, config, deps)).toBe(
      "failed",
    );
    expect(store.snapshots.get(2)).toBe(newOwners);
  });

  it("orders IDs as DynamoDB does: by UTF-8 bytes, not UTF-16 code units", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
        const bytes = Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
        expect(Math.sign(compareStoredOrder(a, b))).toBe(bytes);
      }),
      { numRuns: 2000 },
    );
  });
});
