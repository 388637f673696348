import type { BatchWriteCommandInput, BatchWriteCommandOutput } from "@aws-sdk/lib-dynamodb";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { iso } from "../../../shared/domain/clock.js";
import { ValidationError } from "../../../shared/domain/errors.js";
import type { Item } from "../../../shared/domain/index.js";
import { BatchWriteIncompleteError } from "../../../shared/storage/batch-write.js";
import type { ItemRepository, Repositories } from "../../../shared/storage/ports.js";
import { startDynamo, type TestDynamo } from "../../support/dynamo.js";
import { countRequests, item, newStore, partitionRef, T0 } from "./fixtures.js";

const ref = partitionRef();
const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `U${String(from + i).padStart(5, "0")}`);

describe("DynamoItemRepository", () => {
  let dynamo: TestDynamo;
  let repos: Repositories;
  let items: ItemRepository;
  let tableName: string;
  const cleanups: (() => void)[] = [];

  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(async () => {
    ({ repos, tableName } = await newStore(dynamo));
    items = repos.items;
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  /**
   * Makes BatchWriteItem answers report unprocessed items: `policy(call)` says how many of that call's requests
   * DynamoDB "did not process" (they are not sent, and come back in UnprocessedItems).
   */
  function injectUnprocessed(policy: (call: number, size: number) => number): { calls: () => number } {
    let calls = 0;
    const name = `unprocessed-${Math.random()}`;
    dynamo.doc.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== "BatchWriteItemCommand") return next(args);
        const input = args.input as BatchWriteCommandInput;
        const requests = input.RequestItems?.[tableName] ?? [];
        const dropped = policy(++calls, requests.length);
        const kept = requests.slice(0, requests.length - dropped);
        const unprocessed = requests.slice(requests.length - dropped);
        if (kept.length > 0) await next({ ...args, input: { ...input, RequestItems: { [tableName]: kept } } });
        const output: BatchWriteCommandOutput = {
          $metadata: {},
          UnprocessedItems: unprocessed.length > 0 ? { [tableName]: unprocessed } : {},
        };
        return { output, response: {} } as Awaited<ReturnType<typeof next>>;
      },
      { step: "initialize", name },
    );
    cleanups.push(() => dynamo.doc.middlewareStack.remove(name));
    return { calls: () => calls };
  }

  describe("listSummaries", () => {
    it("reads with ConsistentRead only when asked (the snapshot's full build, right after the sync's writes)", async () => {
      await items.batchPut(ref, [item("A", { name: "Ann" }), item("B", { name: "Bob" })]);
      const seen: (boolean | undefined)[] = [];
      const name = `consistent-${Math.random()}`;
      dynamo.doc.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === "QueryCommand")
            seen.push((args.input as { ConsistentRead?: boolean }).ConsistentRead);
          return next(args);
        },
        { step: "initialize", name },
      );
      cleanups.push(() => dynamo.doc.middlewareStack.remove(name));

      expect((await items.listSummaries(ref, { consistent: true })).map((s) => s.name)).toEqual(["Ann", "Bob"]);
      expect((await items.listSummaries(ref)).map((s) => s.name)).toEqual(["Ann", "Bob"]);
      expect(seen).toEqual([true, undefined]);
    });
  });

  describe("batchPut", () => {
    it("writes 60 items in 3 BatchWriteItem requests of at most 25", async () => {
      const counter = countRequests(dynamo);
      cleanups.push(counter.stop);
      const result = await items.batchPut(
        ref,
        ids(60).map((id) => item(id)),
      );
      expect(result).toEqual({ requests: 3 });
      expect(counter.counts.get("BatchWriteItemCommand")).toBe(3);
      expect(await items.listAll(ref)).toHaveLength(60);
    });

    it("writes nothing and makes no request for an empty list", async () => {
      expect(await items.batchPut(ref, [])).toEqual({ requests: 0 });
    });

    it("keeps the last of two writes of one externalId, which DynamoDB would reject in one batch", async () => {
      const result = await items.batchPut(ref, [
        item("A", { name: "first" }),
        item("B"),
        item("A", { name: "second" }),
      ]);
      expect(result.requests).toBe(1);
      expect((await items.get(ref, "A"))?.name).toBe("second");
    });

    it("retries items DynamoDB left unprocessed until all are written", async () => {
      // The first answer leaves half of its 25 requests unprocessed.
      const injected = injectUnprocessed((call, size) => (call === 1 ? Math.floor(size / 2) : 0));
      const result = await items.batchPut(
        ref,
        ids(25).map((id) => item(id)),
      );
      expect(result.requests).toBe(2);
      expect(injected.calls()).toBe(2);
      expect((await items.listAll(ref)).map((i) => i.externalId)).toEqual(ids(25));
    });

    it("gives up with a typed, retryable error after the attempts run out", async () => {
      const store = await newStore(dynamo, { maxAttempts: 3 });
      tableName = store.tableName;
      const injected = injectUnprocessed((_call, size) => size);
      const attempt = store.repos.items.batchPut(
        ref,
        ids(5).map((id) => item(id)),
      );
      await expect(attempt).rejects.toBeInstanceOf(BatchWriteIncompleteError);
      await expect(attempt).rejects.toMatchObject({ retryable: true, details: { unprocessed: 5, attempts: 3 } });
      expect(injected.calls()).toBe(3);
    });

    it("waits with growing backoff between retries", async () => {
      const waits: number[] = [];
      const store = await newStore(dynamo, {
        maxAttempts: 4,
        random: () => 0.999,
        sleep: async (ms) => {
          waits.push(ms);
        },
      });
      tableName = store.tableName;
      injectUnprocessed((call) => (call <= 3 ? 1 : 0));
      await store.repos.items.batchPut(
        ref,
        ids(3).map((id) => item(id)),
      );
      expect(waits).toHaveLength(3);
      expect(waits[1]).toBeGreaterThan(waits[0] ?? Number.POSITIVE_INFINITY);
      expect(waits[2]).toBeGreaterThan(waits[1] ?? Number.POSITIVE_INFINITY);
    });

    it("rejects an item over 400 KB with a ValidationError before writing anything", async () => {
      const huge = item("big", { metadata: { blob: "x".repeat(410 * 1024) } });
      const attempt = items.batchPut(ref, [item("small"), huge]);
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      await expect(attempt).rejects.toMatchObject({ details: { externalId: "big" } });
      expect(await items.listAll(ref)).toHaveLength(0);
    });

    it("rejects an empty externalId and a partition ID with '#' as ValidationErrors", async () => {
      await expect(items.batchPut(ref, [item("")])).rejects.toBeInstanceOf(ValidationError);
      await expect(items.batchPut(partitionRef({ connectionId: "a#b" }), [item("A")])).rejects.toBeInstanceOf(
        ValidationError,
      );
    });

    it("keeps partitions apart", async () => {
      await items.batchPut(ref, [item("A")]);
      const other = partitionRef({ tenantId: "globex" });
      expect(await items.get(other, "A")).toBeUndefined();
      expect(await items.listAll(other)).toEqual([]);
    });
  });

  describe("get", () => {
    it("returns the item as written, without storage attributes", async () => {
      const written = item("A", { metadata: { email: "a@x.io", nested: { n: 1 } }, lookup: { handle: "@a" } });
      await items.batchPut(ref, [written]);
      expect(await items.get(ref, "A")).toEqual(written);
    });

    it("returns undefined for a missing item", async () => {
      expect(await items.get(ref, "nope")).toBeUndefined();
    });
  });

  describe("getMany", () => {
    it("reads 250 items by key in 3 BatchGetItem requests, in the order asked, skipping missing ones", async () => {
      await items.batchPut(
        ref,
        ids(250).map((id) => item(id)),
      );
      const asked = [...ids(250).reverse(), "missing"];
      const counter = countRequests(dynamo);
      cleanups.push(counter.stop);

      const found = await items.getMany(ref, asked);

      expect(found.map((i) => i.externalId)).toEqual(ids(250).reverse());
      expect(found[0]).toEqual(item("U00249"));
      expect(counter.counts.get("BatchGetItemCommand")).toBe(3);
    });

    it("retries keys DynamoDB left unprocessed until every item is read", async () => {
      await items.batchPut(
        ref,
        ids(10).map((id) => item(id)),
      );
      let calls = 0;
      const name = "unprocessed-keys";
      dynamo.doc.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName !== "BatchGetItemCommand") return next(args);
          calls++;
          const input = args.input as { RequestItems: Record<string, { Keys: Record<string, unknown>[] }> };
          const keys = input.RequestItems[tableName]?.Keys ?? [];
          if (calls > 2 || keys.length < 2) return next(args);
          // DynamoDB answers half the keys and hands the rest back.
          const half = keys.slice(0, Math.ceil(keys.length / 2));
          const rest = keys.slice(half.length);
          const result = await next({ ...args, input: { RequestItems: { [tableName]: { Keys: half } } } });
          const output = result.output as { UnprocessedKeys?: unknown };
          output.UnprocessedKeys = { [tableName]: { Keys: rest } };
          return result;
        },
        { step: "initialize", name },
      );
      cleanups.push(() => dynamo.doc.middlewareStack.remove(name));

      const found = await items.getMany(ref, ids(10));

      expect(found.map((i) => i.externalId)).toEqual(ids(10));
      expect(calls).toBe(3);
    });
  });

  describe("setStatus", () => {
    it("marks existing items inactive with inactiveSince, skipping missing ones", async () => {
      await items.batchPut(
        ref,
        ids(3).map((id) => item(id)),
      );
      const result = await items.setStatus(ref, ["U00000", "U00001", "missing"], "inactive", {
        jobId: "JOB2",
        now: T0,
      });
      expect(result).toMatchObject({ updated: 2 });
      expect(result.rows.map((row) => row.externalId).sort()).toEqual(["U00000", "U00001"]);
      expect(await items.get(ref, "U00000")).toMatchObject({
        status: "inactive",
        inactiveSince: iso(T0),
        jobId: "JOB2",
        change: "status",
        updatedAt: iso(T0),
      });
      expect((await items.get(ref, "U00002"))?.status).toBe("active");
      expect(await items.get(ref, "missing")).toBeUndefined();
    });

    it("keeps the first inactiveSince when marked inactive again, and clears it when active again", async () => {
      await items.batchPut(ref, [item("A")]);
      await items.setStatus(ref, ["A"], "inactive", { jobId: "J1", now: T0 });
      await items.setStatus(ref, ["A"], "inactive", { jobId: "J2", now: T0 + 1000 });
      expect((await items.get(ref, "A"))?.inactiveSince).toBe(iso(T0));
      await items.setStatus(ref, ["A"], "active", { jobId: "J3", now: T0 + 2000 });
      const active = await items.get(ref, "A");
      expect(active?.status).toBe("active");
      expect(active).not.toHaveProperty("inactiveSince");
    });

    it("marks items deleted and counts duplicates once", async () => {
      await items.batchPut(ref, [item("A")]);
      expect(await items.setStatus(ref, ["A", "A"], "deleted", { jobId: "J", now: T0 })).toMatchObject({ updated: 1 });
      expect((await items.get(ref, "A"))?.status).toBe("deleted");
    });

    it("updates 100 items with bounded concurrency", async () => {
      await items.batchPut(
        ref,
        ids(100).map((id) => item(id)),
      );
      expect(await items.setStatus(ref, ids(100), "inactive", { jobId: "J", now: T0 })).toMatchObject({ updated: 100 });
      const page = await items.list(ref, { status: "inactive", limit: 1000 });
      expect(page.items).toHaveLength(100);
    });

    it("rejects an unknown status as a ValidationError", async () => {
      await expect(
        items.setStatus(ref, ["A"], "gone" as unknown as "active", { jobId: "J", now: T0 }),
      ).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe("list", () => {
    it("pages through items in externalId order with a small limit", async () => {
      await items.batchPut(
        ref,
        ids(23).map((id) => item(id)),
      );
      const seen: string[] = [];
      let startKey: Record<string, unknown> | undefined;
      let pages = 0;
      do {
        const page = await items.list(ref, { limit: 10, startKey });
        expect(page.items.length).toBeLessThanOrEqual(10);
        seen.push(...page.items.map((i) => i.externalId));
        startKey = page.nextKey;
        pages++;
      } while (startKey);
      expect(seen).toEqual(ids(23));
      expect(pages).toBe(3);
    });

    it("fills each page with matching items when filtering by status", async () => {
      await items.batchPut(
        ref,
        ids(300).map((id, n) => item(id, { status: n % 3 === 0 ? "inactive" : "active" })),
      );
      const inactive: Item[] = [];
      let startKey: Record<string, unknown> | undefined;
      const sizes: number[] = [];
      do {
        const page = await items.list(ref, { status: "inactive", limit: 40, startKey });
        sizes.push(page.items.length);
        inactive.push(...page.items);
        startKey = page.nextKey;
      } while (startKey);
      expect(inactive).toHaveLength(100);
      expect(new Set(inactive.map((i) => i.externalId)).size).toBe(100);
      expect(inactive.every((i) => i.status === "inactive")).toBe(true);
      expect(sizes.slice(0, 2)).toEqual([40, 40]);
    });

    it("returns no next key when the last page is short", async () => {
      await items.batchPut(
        ref,
        ids(5).map((id) => item(id)),
      );
      const page = await items.list(ref, { limit: 10 });
      expect(page.items).toHaveLength(5);
      expect(page.nextKey).toBeUndefined();
    });

    it("rejects a bad limit and a start key from another partition", async () => {
      await expect(items.list(ref, { limit: 0 })).rejects.toBeInstanceOf(ValidationError);
      await expect(items.list(ref, { limit: 5000 })).rejects.toBeInstanceOf(ValidationError);
      await items.batchPut(
        partitionRef({ tenantId: "globex" }),
        ids(3).map((id) => item(id)),
      );
      const foreign = await items.list(partitionRef({ tenantId: "globex" }), { limit: 1 });
      await expect(items.list(ref, { limit: 1, startKey: foreign.nextKey })).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe("a 4,000-item partition", () => {
    it("writes in 160 requests, lists everything, loads hashes, and round-trips its manifest", async () => {
      const all = ids(4000).map((id, n) =>
        item(id, { contentHash: `hash-${n}`, status: n % 10 === 0 ? "deleted" : "active" }),
      );
      const written = await items.batchPut(ref, all);
      expect(written.requests).toBe(160);

      const listed = await items.listAll(ref);
      expect(listed).toHaveLength(4000);
      expect(listed[3999]?.externalId).toBe("U03999");

      const hashes = await items.loadHashes(ref);
      expect(hashes.size).toBe(4000);
      expect(hashes.get("U00010")).toEqual({ hash: "hash-10", status: "deleted" });
      expect(hashes.get("U00011")).toEqual({ hash: "hash-11", status: "active" });

      const { chunks } = await repos.manifests.write(ref, 1, hashes);
      expect(chunks).toBe(1);
      expect(await repos.manifests.read(ref, 1, chunks)).toEqual(hashes);
    });
  });
});
