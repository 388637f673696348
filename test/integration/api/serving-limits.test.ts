/**
 * Issue 11, what the query routes serve: a deleted source's data is not served (404, as a revoked connection's),
 * cursors are opaque and expire after 24 h (400 CURSOR_EXPIRED), list pages stop at a byte budget (hasMore stays
 * true), and an object over the response budget is served in parts. dynalite, the api-query and api-config handlers.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handler as configHandler } from "../../../functions/api-config/handler.js";
import { handler } from "../../../functions/api-query/handler.js";
import { RESPONSE_BUDGET_BYTES } from "../../../shared/api/query/budget.js";
import type { Item } from "../../../shared/domain/entities.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { sourceInputSchema } from "../../../shared/domain/source-config.js";
import { CURSOR_TTL_MS } from "../../../shared/http/cursor.js";
import { indexCache } from "../../../shared/lookup/cache.js";
import { LEASE_MS, REQUEUE_WINDOW_MS } from "../../../shared/sync/durations.js";
import {
  caller,
  completeSync,
  freshStack,
  type Servers,
  type Stack,
  seedIntegration,
  startServers,
  T0,
} from "./fixture.js";

let servers: Servers;
let stack: Stack;
let counter = 0;
let tenant: string;

beforeAll(async () => {
  servers = await startServers();
  stack = await freshStack(servers);
});
afterAll(async () => {
  await servers.stop();
});
beforeEach(() => {
  tenant = `tenant-serve-${++counter}`;
  stack.clock.t = T0;
  indexCache.clear();
});

const base = "/api/v1/integrations/slack/reference-data";

function item(externalId: string, extra: Partial<Item> = {}): Item {
  const at = new Date(T0 - 60_000).toISOString();
  return {
    externalId,
    name: `Name ${externalId}`,
    lookup: { name: `Name ${externalId}` },
    metadata: {},
    status: "active",
    contentHash: `h-${externalId}`,
    jobId: "01JOB0000000000000000000001",
    change: "created",
    createdAt: at,
    updatedAt: at,
    ...extra,
  };
}

async function seedList(dataTypes: Record<string, Item[]>): Promise<PartitionRef[]> {
  const refs = await seedIntegration(stack, {
    tenantId: tenant,
    integrationId: "slack",
    dataTypes: Object.keys(dataTypes),
    connections: ["default"],
  });
  let n = 0;
  for (const ref of refs) {
    const items = dataTypes[ref.dataType] ?? [];
    if (items.length > 0) await stack.repos.items.batchPut(ref, items);
    await completeSync(stack, ref, {
      jobId: `01JOBSRV${String(counter).padStart(5, "0")}${String(++n).padStart(13, "0")}`,
      itemCount: items.length,
    });
  }
  return refs;
}

const get = (path: string, query: Record<string, string> = {}) =>
  stack.call(handler, { method: "GET", path, query, caller: caller(tenant, ["read"]) });

describe("deleted sources", () => {
  it("stop being served on every query route, like a revoked connection, while the data waits for the purge", async () => {
    const [users] = (await seedList({ users: [item("U1")], channels: [item("C1")] })) as [PartitionRef];
    expect((await get(`${base}/users`)).status).toBe(200);

    const deleted = await stack.call(configHandler, {
      method: "DELETE",
      path: `${base}/sources/users`,
      caller: caller(tenant, ["admin"]),
    });
    expect(deleted.status).toBe(200);

    for (const path of [`${base}/users`, `${base}/users/lookup`]) {
      const res = await get(path, { query: "Name U1" });
      expect(res.status, path).toBe(404);
      expect(res.body.error?.code).toBe("NOT_FOUND");
    }
    const filtered = await get(base, { dataType: "users" });
    expect(
      filtered.status === 404 || (filtered.body.data as unknown[]).length === 0,
      JSON.stringify(filtered.body),
    ).toBe(true);
    const all = await get(base);
    expect(all.status).toBe(200);
    expect((all.body.data as { dataType: string }[]).map((i) => i.dataType)).toEqual(["channels"]);
    const summary = await get(base, { summary: "true" });
    expect((summary.body.data as { dataType: string }[]).map((s) => s.dataType)).toEqual(["channels"]);
    const context = await get(`${base}/context`);
    expect(context.status).toBe(200);
    expect(Object.keys((context.body.data as { referenceData: object }).referenceData)).toEqual(["channels"]);
    expect((await get(`${base}/context`, { dataTypes: "users" })).status).toBe(404);
    // The data itself is still there, for the purge.
    expect((await stack.repos.items.listAll(users)).length).toBe(1);
  });
});

describe("cursors", () => {
  it("do not show key shapes and expire after 24 hours with 400 CURSOR_EXPIRED", async () => {
    await seedList({ users: [item("U1"), item("U2"), item("U3")] });
    const first = await get(`${base}/users`, { limit: "1" });
    const cursor = first.body.pagination?.cursor as string;
    expect(cursor).toEqual(expect.any(String));
    const visible = cursor
      .split(".")
      .map((part) => Buffer.from(part, "base64url").toString("latin1"))
      .join(" ");
    expect(visible).not.toMatch(/ITEM#|"PK"|"SK"|tenant-serve/);

    stack.clock.t = T0 + CURSOR_TTL_MS - 1000;
    expect((await get(`${base}/users`, { limit: "1", cursor })).status).toBe(200);

    stack.clock.t = T0 + CURSOR_TTL_MS + 1000;
    const expired = await get(`${base}/users`, { limit: "1", cursor });
    expect(expired.status).toBe(400);
    expect(expired.body.error?.code).toBe("CURSOR_EXPIRED");
  });
});

describe("response budgets", () => {
  it("stop a list page at the byte budget with hasMore, and page through every item exactly once", async () => {
    const big = "x".repeat(200_000);
    const items = Array.from({ length: 60 }, (_, i) =>
      item(`U${String(i).padStart(3, "0")}`, { metadata: { blob: big } }),
    );
    await seedList({ users: items });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await get(`${base}/users`, { limit: "500", ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(JSON.stringify(res.body))).toBeLessThan(RESPONSE_BUDGET_BYTES + 300_000);
      const data = res.body.data as { externalId: string }[];
      seen.push(...data.map((i) => i.externalId));
      cursor = (res.body.pagination?.cursor as string | null) ?? undefined;
      if (cursor) expect(res.body.pagination?.hasMore).toBe(true);
      pages++;
    } while (cursor && pages < 20);
    expect(pages).toBeGreaterThan(1);
    expect(seen).toEqual(items.map((i) => i.externalId));
  });

  it("serve an object larger than the budget in parts that rebuild it", async () => {
    const object = {
      objects: Array.from({ length: 40 }, (_, i) => ({ name: `o${i}`, doc: "y".repeat(300_000) })),
      version: 3,
    };
    const ref = { tenantId: tenant, integrationId: "slack", connectionId: "default", dataType: "crm_schema" };
    const now = stack.clock.now();
    await stack.repos.sources.put(
      tenant,
      "slack",
      "crm_schema",
      sourceInputSchema.parse({
        integrationSlug: "hubspot",
        actionSlug: "schema-get",
        referenceData: { dataType: "crm_schema", syncType: "object" },
      }),
      now,
    );
    await stack.repos.connections.enroll(tenant, "slack", "default", now);
    await stack.repos.partitions.ensure(ref, { syncType: "object", now });
    const jobId = `01JOBOBJPARTS${String(counter).padStart(13, "0")}`;
    const { chunks } = await stack.repos.objects.write(ref, 1, object);
    await stack.repos.partitions.claim(ref, { jobId, now, requeueDeadline: now + REQUEUE_WINDOW_MS });
    await stack.repos.partitions.acquireLease(ref, { jobId, owner: "t", now, leaseMs: LEASE_MS });
    await stack.repos.partitions.recordSuccess(ref, {
      jobId,
      owner: "t",
      now,
      nextSyncAt: now + 3_600_000,
      version: 1,
      manifestChunks: 0,
      objectChunks: chunks,
      itemCount: 1,
      startedAt: now,
      full: true,
    });

    const first = await get(`${base}/crm_schema`);
    expect(first.status).toBe(200);
    expect(Buffer.byteLength(JSON.stringify(first.body))).toBeLessThan(RESPONSE_BUDGET_BYTES + 400_000);
    const data = first.body.data as { parts: number; part: number; object: { objects: unknown[] } };
    expect(data.parts).toBeGreaterThan(1);
    expect(data.part).toBe(0);
    const rebuilt: unknown[] = [...data.object.objects];
    let version: unknown = (data.object as Record<string, unknown>).version;
    for (let part = 1; part < data.parts; part++) {
      const res = await get(`${base}/crm_schema`, { part: String(part) });
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(JSON.stringify(res.body))).toBeLessThan(RESPONSE_BUDGET_BYTES + 400_000);
      const piece = (res.body.data as { object: Record<string, unknown> }).object;
      rebuilt.push(...((piece.objects as unknown[]) ?? []));
      version ??= piece.version;
    }
    expect({ objects: rebuilt, version }).toEqual(object);
    expect((await get(`${base}/crm_schema`, { part: String(data.parts) })).status).toBe(400);
  });
});
