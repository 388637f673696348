/**
 * The api-query handler's read routes on dynalite: health, list (filters, search, summary, cursor paging), by type
 * (items and objects), revoked connections, and 400s for bad query parameters.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handler } from "../../../functions/api-query/handler.js";
import { loadConfig } from "../../../shared/config.js";
import type { Item, ItemStatus } from "../../../shared/domain/entities.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { sourceInputSchema } from "../../../shared/domain/source-config.js";
import { createSecretsLoader } from "../../../shared/gateway/secrets.js";
import { indexCache } from "../../../shared/lookup/cache.js";
import { overrideRuntime } from "../../../shared/runtime.js";
import { LEASE_MS, REQUEUE_WINDOW_MS } from "../../../shared/sync/durations.js";
import {
  CURSOR_SECRET,
  caller,
  completeSync,
  freshStack,
  listSource,
  type Servers,
  type Stack,
  seedIntegration,
  startServers,
  T0,
} from "./fixture.js";

let servers: Servers;
let stack: Stack;
let tenantCounter = 0;
let tenant: string;

beforeAll(async () => {
  servers = await startServers();
  stack = await freshStack(servers);
});
afterAll(async () => {
  await servers.stop();
});
beforeEach(() => {
  // Each test gets its own tenant: the module-scope index cache outlives a test, and keys include the tenant.
  tenant = `tenant-list-${++tenantCounter}`;
  indexCache.clear();
});

const base = (integrationId = "slack") => `/api/v1/integrations/${integrationId}/reference-data`;

function item(externalId: string, name: string, status: ItemStatus = "active", extra: Partial<Item> = {}): Item {
  const at = new Date(T0 - 60_000).toISOString();
  return {
    externalId,
    name,
    lookup: { name },
    metadata: { email: `${externalId.toLowerCase()}@example.com` },
    status,
    contentHash: `h-${externalId}`,
    jobId: "01JOB0000000000000000000001",
    change: "created",
    createdAt: at,
    updatedAt: at,
    ...extra,
  };
}

/** Seeds list partitions with items and completes a sync of each. */
async function seedLists(
  data: Record<string, Item[]>,
  options: { connections?: string[]; tenantId?: string } = {},
): Promise<PartitionRef[]> {
  const tenantId = options.tenantId ?? tenant;
  const refs = await seedIntegration(stack, {
    tenantId,
    integrationId: "slack",
    dataTypes: Object.keys(data),
    connections: options.connections ?? ["default"],
  });
  let n = 0;
  for (const ref of refs) {
    const items = data[ref.dataType] ?? [];
    if (items.length > 0) await stack.repos.items.batchPut(ref, items);
    await completeSync(stack, ref, {
      jobId: `01JOBLIST${String(tenantCounter).padStart(4, "0")}${String(++n).padStart(13, "0")}`,
      itemCount: items.filter((i) => i.status === "active").length,
      totalCount: items.length,
    });
  }
  return refs;
}

/** An object partition with a committed object (version 1). */
async function seedObject(dataType: string, object: unknown): Promise<PartitionRef> {
  const ref = { tenantId: tenant, integrationId: "slack", connectionId: "default", dataType };
  const now = stack.clock.now();
  await stack.repos.sources.put(
    tenant,
    "slack",
    dataType,
    sourceInputSchema.parse({
      integrationSlug: "hubspot",
      actionSlug: "schema-get",
      referenceData: { dataType, syncType: "object" },
    }),
    now,
  );
  await stack.repos.connections.enroll(tenant, "slack", "default", now);
  await stack.repos.partitions.ensure(ref, { syncType: "object", now });
  const jobId = `01JOBOBJ${String(tenantCounter).padStart(18, "0")}`;
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
    itemCount: 0,
    startedAt: now,
    full: true,
  });
  return ref;
}

/** The stack secret as it stands in a rotation: the handlers' secrets loader over these cursor keys. */
function useCursorSecrets(keys: { CURSOR_SECRET: string; PREVIOUS_CURSOR_SECRET?: string }): void {
  overrideRuntime({ secrets: createSecretsLoader(loadConfig({ ...keys }), { inLambda: false }) });
}

async function get<T = unknown>(path: string, query: Record<string, string> = {}, tenantId = tenant) {
  return stack.call<T>(handler, { method: "GET", path, query, caller: caller(tenantId) });
}

describe("health", () => {
  it("answers without an API key", async () => {
    const res = await stack.call<{ status: string }>(handler, { method: "GET", path: "/api/v1/health", caller: null });
    expect(res.status).toBe(200);
    expect(res.body.data?.status).toBe("ok");
  });
});

describe("GET .../reference-data", () => {
  it("lists active items in the seed's wire format, with the partition's lastSyncedAt", async () => {
    await seedLists({ users: [item("U1", "Derek Osgood"), item("U2", "Gone Person", "inactive")] });

    const res = await get(base());

    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      {
        id: "default:users:U1",
        externalId: "U1",
        name: "Derek Osgood",
        dataType: "users",
        connectionId: "default",
        status: "active",
        metadata: { email: "u1@example.com" },
        lastSyncedAt: new Date(T0).toISOString(),
        updatedAt: new Date(T0 - 60_000).toISOString(),
      },
    ]);
    expect(res.body.pagination).toEqual({ cursor: null, hasMore: false });
  });

  it("filters by status, data type and connection", async () => {
    await seedLists(
      {
        users: [item("U1", "Active One"), item("U2", "Inactive One", "inactive"), item("U3", "Deleted", "deleted")],
        channels: [item("C1", "general")],
      },
      { connections: ["default", "conn-1"] },
    );
    await stack.repos.items.batchPut(
      { tenantId: tenant, integrationId: "slack", connectionId: "conn-1", dataType: "users" },
      [item("U9", "Only On Conn1")],
    );

    const ids = async (query: Record<string, string>) =>
      ((await get<{ externalId: string }[]>(base(), query)).body.data ?? []).map((i) => i.externalId);

    const own = { connectionId: "default" };
    expect(await ids(own)).toEqual(["C1", "U1"]);
    expect(await ids({ ...own, status: "all" })).toEqual(["C1", "U1", "U2", "U3"]);
    expect(await ids({ ...own, status: "inactive" })).toEqual(["U2"]);
    expect(await ids({ ...own, status: "deleted", dataType: "users" })).toEqual(["U3"]);
    expect(await ids({ ...own, dataType: "channels" })).toEqual(["C1"]);
    expect(await ids({ connectionId: "conn-1", dataType: "users" })).toEqual(["U1", "U9"]);
  });

  it("spans every served connection when none is named, each item saying its connection, revoked ones left out", async () => {
    await seedLists({ users: [], channels: [] }, { connections: ["conn-a", "conn-b", "conn-gone"] });
    const at = (connectionId: string, dataType: string) => ({
      tenantId: tenant,
      integrationId: "slack",
      connectionId,
      dataType,
    });
    await stack.repos.items.batchPut(at("conn-a", "users"), [item("UA", "Only On A"), item("UX", "Shared")]);
    await stack.repos.items.batchPut(at("conn-b", "users"), [item("UX", "Shared")]);
    await stack.repos.items.batchPut(at("conn-b", "channels"), [item("CB", "b-general")]);
    await stack.repos.items.batchPut(at("conn-gone", "users"), [item("UG", "Revoked Person")]);
    await stack.repos.connections.revoke(tenant, "slack", "conn-gone", stack.clock.now());

    const all = await get<{ id: string; connectionId: string }[]>(base());
    expect(all.status).toBe(200);
    expect(all.body.data!.map((i) => i.id)).toEqual([
      "conn-b:channels:CB",
      "conn-a:users:UA",
      "conn-a:users:UX",
      "conn-b:users:UX",
    ]);
    const byType = await get<{ id: string }[]>(`${base()}/users`);
    expect(byType.body.data!.map((i) => i.id)).toEqual(["conn-a:users:UA", "conn-a:users:UX", "conn-b:users:UX"]);
    const searched = await get<{ id: string }[]>(`${base()}/users`, { search: "shared" });
    expect(searched.body.data!.map((i) => i.id)).toEqual(["conn-a:users:UX", "conn-b:users:UX"]);
    expect(JSON.stringify([all.body, byType.body])).not.toContain("Revoked Person");

    // Paging one item at a time across connections: every item once, in the same order.
    const paged: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const res = await get<{ id: string }[]>(`${base()}/users`, { limit: "1", ...(cursor ? { cursor } : {}) });
      paged.push(...res.body.data!.map((i) => i.id));
      cursor = res.body.pagination?.cursor ?? undefined;
      if (!cursor) break;
    }
    expect(paged).toEqual(byType.body.data!.map((i) => i.id));
  });

  it("pages through every type with signed cursors, without gaps or repeats", async () => {
    const users = Array.from({ length: 7 }, (_, i) => item(`U${i}`, `User ${i}`));
    const channels = Array.from({ length: 5 }, (_, i) => item(`C${i}`, `channel-${i}`));
    await seedLists({ users, channels });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await get<{ externalId: string }[]>(base(), { limit: "3", ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      expect(res.body.data!.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.data!.map((i) => i.externalId));
      cursor = res.body.pagination?.cursor ?? undefined;
      expect(res.body.pagination?.hasMore).toBe(cursor !== undefined);
      pages++;
    } while (cursor && pages < 20);

    expect(seen).toEqual([...channels.map((i) => i.externalId), ...users.map((i) => i.externalId)]);
    expect(new Set(seen).size).toBe(12);
  });

  it("rejects a cursor from another query, another tenant, or tampered", async () => {
    await seedLists({ users: Array.from({ length: 4 }, (_, i) => item(`U${i}`, `User ${i}`)) });
    // The intruder has data of its own under the same IDs, so its request reaches the cursor check.
    const intruder = `${tenant}-intruder`;
    await seedLists({ users: [item("X1", "Intruder")] }, { tenantId: intruder });
    const first = await get(base(), { limit: "2" });
    const cursor = first.body.pagination?.cursor;
    expect(cursor).toEqual(expect.any(String));

    const otherQuery = await get(base(), { limit: "2", status: "all", cursor: cursor! });
    const otherTenant = await get(base(), { limit: "2", cursor: cursor! }, intruder);
    const tampered = await get(base(), { limit: "2", cursor: `x${cursor}` });
    const ok = await get(base(), { limit: "5", cursor: cursor! });

    expect(otherQuery.status).toBe(400);
    expect(otherQuery.body.error?.code).toBe("INVALID_REQUEST");
    expect(otherQuery.body.error?.message).toMatch(/another query/);
    expect(otherTenant.status).toBe(400);
    expect(otherTenant.body.error?.message).toMatch(/another tenant/);
    expect(tampered.status).toBe(400);
    expect(ok.status).toBe(200);
    expect((ok.body.data as unknown[]).length).toBe(2);
  });

  it("keeps a cursor issued before a rotation of the cursor secret while previousCursorSecret is set, not after", async () => {
    await seedLists({ users: Array.from({ length: 4 }, (_, i) => item(`U${i}`, `User ${i}`)) });
    const first = await get<{ externalId: string }[]>(base(), { limit: "2" });
    const issuedBefore = first.body.pagination?.cursor as string;
    const rotatedKey = "the-rotated-cursor-secret-0123456789";
    try {
      useCursorSecrets({ CURSOR_SECRET: rotatedKey, PREVIOUS_CURSOR_SECRET: CURSOR_SECRET });
      const during = await get<{ externalId: string }[]>(base(), { limit: "2", cursor: issuedBefore });

      useCursorSecrets({ CURSOR_SECRET: rotatedKey });
      const after = await get(base(), { limit: "2", cursor: issuedBefore });

      expect(during.status).toBe(200);
      expect([...(first.body.data ?? []), ...(during.body.data ?? [])].map((i) => i.externalId).sort()).toEqual([
        "U0",
        "U1",
        "U2",
        "U3",
      ]);
      expect(after.status).toBe(400);
      expect(after.body.error?.code).toBe("INVALID_REQUEST");
      expect(after.body.error?.message).toMatch(/signature mismatch.*without a cursor/);
    } finally {
      useCursorSecrets({ CURSOR_SECRET });
    }
  });

  it("searches with `search` or its alias `q`, pages the matches, and counts them for one type", async () => {
    const users = [
      item("U1", "Sarah Chen"),
      item("U2", "Sarah Connor"),
      item("U3", "Derek Osgood"),
      item("U4", "Sarita Lopez"),
      item("U5", "Sarah Old", "inactive"),
    ];
    await seedLists({ users, channels: [item("C1", "sarah-fans")] });

    const names = async (query: Record<string, string>) => {
      const res = await get<{ name: string }[]>(base(), query);
      expect(res.status).toBe(200);
      return { names: res.body.data!.map((i) => i.name), pagination: res.body.pagination };
    };

    expect((await names({ search: "sarah" })).names).toEqual(["sarah-fans", "Sarah Chen", "Sarah Connor"]);
    expect((await names({ q: "SAR", dataType: "users" })).names).toEqual([
      "Sarah Chen",
      "Sarah Connor",
      "Sarita Lopez",
    ]);
    expect((await names({ search: "sarah c", dataType: "users" })).names).toEqual(["Sarah Chen", "Sarah Connor"]);
    expect((await names({ search: "sarah", status: "all", dataType: "users" })).names).toContain("Sarah Old");
    expect((await names({ search: "nobody" })).names).toEqual([]);

    const page1 = await names({ search: "sar", dataType: "users", limit: "2" });
    expect(page1.names).toEqual(["Sarah Chen", "Sarah Connor"]);
    expect(page1.pagination).toMatchObject({ hasMore: true, totalCount: 3 });
    const page2 = await names({ search: "sar", dataType: "users", limit: "2", cursor: page1.pagination!.cursor! });
    expect(page2.names).toEqual(["Sarita Lopez"]);
    expect(page2.pagination).toMatchObject({ hasMore: false, cursor: null });
  });

  it("returns per-type counts with summary=true", async () => {
    await seedLists({
      users: [item("U1", "A"), item("U2", "B"), item("U3", "C", "inactive")],
      channels: [item("C1", "general")],
    });
    await seedObject("crm_schema", { fields: [] });

    const res = await get(base(), { summary: "true" });

    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      {
        dataType: "channels",
        totalCount: 1,
        activeCount: 1,
        lastSyncedAt: new Date(T0).toISOString(),
        syncType: "list",
        connectionCount: 1,
        freshness: "fresh",
      },
      expect.objectContaining({ dataType: "crm_schema", syncType: "object", freshness: "fresh" }),
      expect.objectContaining({ dataType: "users", totalCount: 3, activeCount: 2 }),
    ]);
  });

  it("sums the summary over every served connection, or reads the one named", async () => {
    await seedLists(
      { users: [item("U1", "A"), item("U2", "B"), item("U3", "C", "deleted")] },
      { connections: ["conn-a", "conn-b"] },
    );
    const all = await get<{ dataType: string; totalCount: number; activeCount: number }[]>(base(), {
      summary: "true",
    });
    expect(all.body.data).toEqual([
      expect.objectContaining({ dataType: "users", totalCount: 6, activeCount: 4, connectionCount: 2 }),
    ]);
    const one = await get(base(), { summary: "true", connectionId: "conn-b" });
    expect(one.body.data).toEqual([
      expect.objectContaining({ dataType: "users", totalCount: 3, activeCount: 2, connectionCount: 1 }),
    ]);
  });

  it("is INTEGRATION_NOT_FOUND for an integration the tenant never configured", async () => {
    const res = await get(base("github"));
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe("INTEGRATION_NOT_FOUND");
  });

  it.each([
    [{ limit: "0" }, "limit"],
    [{ limit: "501" }, "limit"],
    [{ limit: "ten" }, "limit"],
    [{ status: "archived" }, "status"],
    [{ summary: "yes" }, "summary"],
    [{ dataType: "bad#type" }, "dataType"],
    [{ dataType: "sync" }, "dataType"],
    [{ connectionId: "" }, "connectionId"],
    [{ search: "x".repeat(201) }, "search"],
  ])("rejects %j with a 400 naming the field", async (query, field) => {
    await seedLists({ users: [item("U1", "A")] });
    const res = await get(base(), query);
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe("VALIDATION_ERROR");
    expect(JSON.stringify(res.body.error?.details)).toContain(field);
  });
});

describe("GET .../reference-data/{dataType}", () => {
  it("lists one type's items with paging", async () => {
    await seedLists({
      users: Array.from({ length: 5 }, (_, i) => item(`U${i}`, `User ${i}`)),
      channels: [item("C1", "x")],
    });

    const page1 = await get<{ externalId: string; dataType: string }[]>(`${base()}/users`, { limit: "3" });
    const page2 = await get<{ externalId: string }[]>(`${base()}/users`, {
      limit: "3",
      cursor: page1.body.pagination!.cursor!,
    });

    expect(page1.status).toBe(200);
    expect(page1.body.data!.map((i) => i.externalId)).toEqual(["U0", "U1", "U2"]);
    expect(page1.body.data!.every((i) => i.dataType === "users")).toBe(true);
    expect(page2.body.data!.map((i) => i.externalId)).toEqual(["U3", "U4"]);
    expect(page2.body.pagination).toEqual({ cursor: null, hasMore: false });
  });

  it("does not accept a cursor of the list route", async () => {
    await seedLists({ users: Array.from({ length: 3 }, (_, i) => item(`U${i}`, `User ${i}`)) });
    const listPage = await get(base(), { limit: "1" });
    const res = await get(`${base()}/users`, { limit: "1", cursor: listPage.body.pagination!.cursor! });
    expect(res.status).toBe(400);
  });

  it("returns an object type whole with its sync time", async () => {
    const object = { properties: [{ name: "email", type: "string" }], big: "x".repeat(600_000) };
    await seedObject("crm_schema", object);

    const res = await get<{ dataType: string; object: unknown; syncedAt: string }>(`${base()}/crm_schema`);

    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ dataType: "crm_schema", object, syncedAt: new Date(T0).toISOString() });
    expect(res.body.pagination).toBeUndefined();
  });

  it("returns null object and syncedAt for an object type that never synced", async () => {
    const ref = { tenantId: tenant, integrationId: "slack", connectionId: "default", dataType: "crm_schema" };
    await stack.repos.partitions.ensure(ref, { syncType: "object", now: stack.clock.now() });
    const res = await get(`${base()}/crm_schema`);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ dataType: "crm_schema", object: null, syncedAt: null });
  });

  it("is 404 for a data type the connection does not have", async () => {
    await seedLists({ users: [item("U1", "A")] });
    const res = await get(`${base()}/repos`);
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe("NOT_FOUND");
  });
});

describe("revoked connections", () => {
  it("serves none of a revoked connection's data, on any query route", async () => {
    await seedLists({ users: [item("U1", "Derek Osgood")] }, { connections: ["conn-r"] });
    await stack.repos.connections.revoke(tenant, "slack", "conn-r", stack.clock.now());
    const q = { connectionId: "conn-r" };

    const responses = await Promise.all([
      get(base(), q),
      get(base(), { ...q, summary: "true" }),
      get(`${base()}/users`, q),
      get(`${base()}/users/lookup`, { ...q, query: "derek" }),
      get(`${base()}/context`, q),
    ]);

    for (const res of responses) {
      expect(res.status).toBe(404);
      expect(res.body.error?.code).toBe("NOT_FOUND");
      expect(JSON.stringify(res.body)).not.toContain("Derek");
    }
    await stack.repos.connections.enroll(tenant, "slack", "conn-r", stack.clock.now());
    expect((await get(`${base()}/users`, q)).status).toBe(200);
  });
});

describe("source fields in lookups made through the list fixture", () => {
  it("uses the source's lookup fields", async () => {
    await seedLists({
      users: [item("U1", "Derek Osgood", "active", { lookup: { "profile.email": "dosgood@acme.io" } })],
    });
    await stack.repos.sources.put(
      tenant,
      "slack",
      "users",
      listSource("users", { lookupFields: ["profile.email"] }),
      stack.clock.now(),
    );
    const res = await get<{ matches: { id: string; matchedField: string }[] }>(`${base()}/users/lookup`, {
      query: "dosgood@acme.io",
    });
    expect(res.body.data?.matches[0]).toMatchObject({ id: "U1", matchedField: "profile.email" });
  });
});
