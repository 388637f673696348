/**
 * Lookup and AI context through the api-query handler on dynalite: ranking and the required examples, freshness,
 * the index cache following the partition's version, fuzzy matching off, budgets, object types, and 400s.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handler } from "../../../functions/api-query/handler.js";
import type { Item, ItemStatus } from "../../../shared/domain/entities.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { sourceInputSchema } from "../../../shared/domain/source-config.js";
import { indexCache } from "../../../shared/lookup/cache.js";
import { LEASE_MS, REQUEUE_WINDOW_MS } from "../../../shared/sync/durations.js";
import {
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
let counter = 0;
let tenant: string;
let jobs = 0;

beforeAll(async () => {
  servers = await startServers();
  stack = await freshStack(servers);
});
afterAll(async () => {
  await servers.stop();
});
beforeEach(() => {
  tenant = `tenant-lookup-${++counter}`;
  stack.clock.t = Date.parse("2026-03-01T12:00:00.000Z");
});

const base = `/api/v1/integrations/slack/reference-data`;
const nextJobId = () => `01JOBLOOKUP${String(++jobs).padStart(15, "0")}`;

function item(externalId: string, name: string, status: ItemStatus = "active", extra: Partial<Item> = {}): Item {
  const at = new Date(T0).toISOString();
  return {
    externalId,
    name,
    lookup: { name },
    metadata: { title: `title of ${externalId}` },
    status,
    contentHash: `h-${externalId}-${name}`,
    jobId: "01JOB0000000000000000000001",
    change: "created",
    createdAt: at,
    updatedAt: at,
    ...extra,
  };
}

async function seed(
  data: Record<string, Item[]>,
  sourceExtra: Record<string, Record<string, unknown>> = {},
): Promise<Record<string, PartitionRef>> {
  const refs = await seedIntegration(stack, {
    tenantId: tenant,
    integrationId: "slack",
    dataTypes: Object.keys(data),
    connections: ["default"],
  });
  const byType: Record<string, PartitionRef> = {};
  for (const ref of refs) {
    const extra = sourceExtra[ref.dataType];
    if (extra) await stack.repos.sources.put(tenant, "slack", ref.dataType, listSource(ref.dataType, extra), T0);
    await stack.repos.items.batchPut(ref, data[ref.dataType] ?? []);
    await completeSync(stack, ref, { jobId: nextJobId(), itemCount: data[ref.dataType]?.length ?? 0 });
    byType[ref.dataType] = ref;
  }
  return byType;
}

interface LookupData {
  matches: { id: string; name: string; score: number; matchedField: string; matchType: string; metadata: unknown }[];
  ambiguous: boolean;
  lastSyncedAt: string | null;
  stale: boolean;
}

async function lookupOf(query: string, extra: Record<string, string> = {}, dataType = "users") {
  return stack.call<LookupData>(handler, {
    method: "GET",
    path: `${base}/${dataType}/lookup`,
    query: { query, ...extra },
    caller: caller(tenant),
  });
}

const people = () => [
  item("U1", "Derek Osgood"),
  item("U2", "Sarah Chen"),
  item("U3", "Sarah Connor"),
  item("U4", "Zoë Adams"),
];

describe("GET .../{dataType}/lookup", () => {
  it("resolves the required examples, with freshness", async () => {
    await seed({ users: people(), channels: [item("C1", "general"), item("C2", "general-chat")] });

    const derek = await lookupOf("derek");
    const sara = await lookupOf("sara chen");
    const sarah = await lookupOf("sarah");
    const general = await lookupOf("#general", {}, "channels");
    const zoe = await lookupOf("zoe adams");

    expect(derek.status).toBe(200);
    expect(derek.body.data).toEqual({
      matches: [
        {
          id: "U1",
          name: "Derek Osgood",
          score: expect.any(Number),
          matchedField: "name",
          matchType: "prefix",
          metadata: { title: "title of U1" },
        },
      ],
      ambiguous: false,
      lastSyncedAt: new Date(T0).toISOString(),
      stale: false,
    });
    expect(sara.body.data?.matches[0]).toMatchObject({ id: "U2", matchType: "fuzzy" });
    expect(sara.body.data?.ambiguous).toBe(false);
    expect(sarah.body.data?.ambiguous).toBe(true);
    expect(sarah.body.data?.matches.map((m) => m.id)).toEqual(["U2", "U3"]);
    expect(general.body.data?.matches[0]).toMatchObject({ id: "C1", matchType: "exact" });
    expect(general.body.data?.ambiguous).toBe(false);
    expect(zoe.body.data?.matches[0]).toMatchObject({ id: "U4", matchType: "exact" });
  });

  it("excludes inactive items unless includeInactive, and honours limit", async () => {
    await seed({
      users: [
        item("U1", "Pat One"),
        item("U2", "Pat Two", "inactive"),
        ...Array.from({ length: 8 }, (_, i) => item(`P${i}`, `Pat Extra${i}`)),
      ],
    });

    expect((await lookupOf("pat two")).body.data?.matches).toEqual([]);
    expect((await lookupOf("pat two", { includeInactive: "true" })).body.data?.matches[0]?.id).toBe("U2");
    expect((await lookupOf("pat")).body.data?.matches).toHaveLength(5);
    expect((await lookupOf("pat", { limit: "2" })).body.data?.matches).toHaveLength(2);
  });

  it("matches only exactly when the source has fuzzyMatch off", async () => {
    await seed({ users: people() }, { users: { fuzzyMatch: false } });

    expect((await lookupOf("derek")).body.data?.matches).toEqual([]);
    expect((await lookupOf("DEREK osgood")).body.data?.matches[0]).toMatchObject({ id: "U1", matchType: "exact" });
  });

  it("is stale past the TTL and when the partition failed, and never-synced data is stale with no lastSyncedAt", async () => {
    const refs = await seed({ users: people() });
    expect((await lookupOf("derek")).body.data?.stale).toBe(false);

    stack.clock.t = T0 + 3_600_000 + 1_000; // listSource's TTL is one hour
    expect((await lookupOf("derek")).body.data?.stale).toBe(true);

    stack.clock.t = T0 + 60_000;
    const ref = refs.users!;
    const jobId = nextJobId();
    const now = stack.clock.now();
    await stack.repos.partitions.claim(ref, { jobId, now, requeueDeadline: now + REQUEUE_WINDOW_MS });
    await stack.repos.partitions.acquireLease(ref, { jobId, owner: "w", now, leaseMs: LEASE_MS });
    await stack.repos.partitions.recordFailure(ref, {
      jobId,
      owner: "w",
      now,
      error: { code: "TIMEOUT", message: "upstream timed out" },
      nextSyncAt: now + 60_000,
    });
    const failed = await lookupOf("derek");
    expect(failed.body.data).toMatchObject({ stale: true, lastSyncedAt: new Date(T0).toISOString() });
    expect(failed.body.data?.matches[0]?.id).toBe("U1");

    const fresh = { tenantId: tenant, integrationId: "slack", connectionId: "default", dataType: "repos" };
    await stack.repos.sources.put(tenant, "slack", "repos", listSource("repos"), T0);
    await stack.repos.partitions.ensure(fresh, { syncType: "list", now: T0 });
    const never = await lookupOf("anything", {}, "repos");
    expect(never.status).toBe(200);
    expect(never.body.data).toEqual({ matches: [], ambiguous: false, lastSyncedAt: null, stale: true });
  });

  it("keeps serving the cached index until the partition's version changes, then sees the new data", async () => {
    const refs = await seed({ users: [item("U1", "Old Name")] });
    const ref = refs.users!;
    expect((await lookupOf("old name")).body.data?.matches[0]?.id).toBe("U1");

    // Items written by a sync still in progress are not served until it commits a new version.
    await stack.repos.items.batchPut(ref, [item("U1", "New Name")]);
    expect((await lookupOf("new name")).body.data?.matches).toEqual([]);
    expect((await lookupOf("old name")).body.data?.matches[0]?.id).toBe("U1");

    await completeSync(stack, ref, { jobId: nextJobId(), itemCount: 1, version: 2 });
    expect((await lookupOf("new name")).body.data?.matches[0]?.id).toBe("U1");
    expect((await lookupOf("old name")).body.data?.matches).toEqual([]);
  });

  it("answers from the cache with no item reads while the version holds", async () => {
    await seed({ users: people() });
    await lookupOf("derek");
    const before = indexCache.stats();
    await lookupOf("sarah");
    await lookupOf("zoe");
    const after = indexCache.stats();
    expect(after.hits - before.hits).toBe(2);
    expect(after.misses - before.misses).toBe(0);
  });

  it("is 400 for a lookup on an object type", async () => {
    const ref = { tenantId: tenant, integrationId: "slack", connectionId: "default", dataType: "crm_schema" };
    await stack.repos.partitions.ensure(ref, { syncType: "object", now: T0 });
    const res = await lookupOf("x", {}, "crm_schema");
    expect(res.status).toBe(400);
    expect(res.body.error?.details).toMatchObject({ field: "dataType" });
  });

  it("is 404 for a data type that does not exist", async () => {
    await seed({ users: people() });
    const res = await lookupOf("derek", {}, "repos");
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe("NOT_FOUND");
  });

  it.each([
    [{}, "query"],
    [{ query: "" }, "query"],
    [{ query: "   " }, "query"],
    [{ query: "#@!" }, "query"],
    [{ query: "x".repeat(257) }, "query"],
    [{ query: "derek", limit: "0" }, "limit"],
    [{ query: "derek", limit: "51" }, "limit"],
    [{ query: "derek", includeInactive: "yes" }, "includeInactive"],
    [{ query: "derek", connectionId: "a#b" }, "connectionId"],
  ])("rejects %j with a 400 naming the field", async (query, field) => {
    await seed({ users: people() });
    const res = await stack.call(handler, {
      method: "GET",
      path: `${base}/users/lookup`,
      query: query as Record<string, string>,
      caller: caller(tenant),
    });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe("VALIDATION_ERROR");
    expect(JSON.stringify(res.body.error?.details)).toContain(field);
  });
});

interface ContextData {
  referenceData: Record<string, { id: string; name: string; metadata?: Record<string, unknown> }[]>;
  objects: Record<string, unknown>;
  text: string;
  truncated: Record<string, boolean>;
  estimatedTokens: number;
}

async function contextOf(query: Record<string, string>) {
  return stack.call<ContextData>(handler, {
    method: "GET",
    path: `${base}/context`,
    query,
    caller: caller(tenant),
  });
}

async function seedObject(dataType: string, object: unknown): Promise<void> {
  const ref = { tenantId: tenant, integrationId: "slack", connectionId: "default", dataType };
  const input = sourceInputSchema.parse({
    integrationSlug: "hubspot",
    actionSlug: "schema",
    referenceData: { dataType, syncType: "object" },
  });
  await stack.repos.sources.put(tenant, "slack", dataType, input, T0);
  await stack.repos.partitions.ensure(ref, { syncType: "object", now: T0 });
  const jobId = nextJobId();
  const { chunks } = await stack.repos.objects.write(ref, 1, object);
  await stack.repos.partitions.claim(ref, { jobId, now: T0, requeueDeadline: T0 + REQUEUE_WINDOW_MS });
  await stack.repos.partitions.acquireLease(ref, { jobId, owner: "t", now: T0, leaseMs: LEASE_MS });
  await stack.repos.partitions.recordSuccess(ref, {
    jobId,
    owner: "t",
    now: T0,
    nextSyncAt: T0 + 3_600_000,
    version: 1,
    manifestChunks: 0,
    objectChunks: chunks,
    itemCount: 0,
    startedAt: T0,
    full: true,
  });
}

describe("reads that name no connection", () => {
  /** Users of two connections, each with its own people; a third connection, revoked, flagged primary. */
  async function seedConnections(primary: string | undefined) {
    const refs = await seedIntegration(stack, {
      tenantId: tenant,
      integrationId: "slack",
      dataTypes: ["users"],
      connections: ["default", "conn-p"],
    });
    for (const ref of refs) {
      const who = ref.connectionId === "default" ? item("UD", "Dana Default") : item("UP", "Dana Primary");
      await stack.repos.items.batchPut(ref, [who]);
      await completeSync(stack, ref, { jobId: nextJobId(), itemCount: 1 });
    }
    if (primary) await stack.repos.connections.setPrimary(tenant, "slack", primary, true, T0);
  }

  const contextUsers = async (query: Record<string, string> = {}) =>
    (await contextOf(query)).body.data?.referenceData.users?.map((u) => u.id);

  it("lookup and context read the integration's primary connection", async () => {
    await seedConnections("conn-p");
    expect((await lookupOf("dana")).body.data?.matches.map((m) => m.id)).toEqual(["UP"]);
    expect(await contextUsers()).toEqual(["UP"]);
    // Naming a connection still reads exactly that one.
    expect((await lookupOf("dana", { connectionId: "default" })).body.data?.matches.map((m) => m.id)).toEqual(["UD"]);
    expect(await contextUsers({ connectionId: "default" })).toEqual(["UD"]);
  });

  it("fall back to `default` when no primary is recorded, or the primary was revoked", async () => {
    await seedConnections(undefined);
    expect((await lookupOf("dana")).body.data?.matches.map((m) => m.id)).toEqual(["UD"]);
    expect(await contextUsers()).toEqual(["UD"]);

    await stack.repos.connections.setPrimary(tenant, "slack", "conn-p", true, T0);
    await stack.repos.connections.revoke(tenant, "slack", "conn-p", T0);
    expect((await lookupOf("dana")).body.data?.matches.map((m) => m.id)).toEqual(["UD"]);
    expect(await contextUsers()).toEqual(["UD"]);
  });
});

describe("GET .../reference-data/context", () => {
  it("renders every type of the connection in Waygate's context shape", async () => {
    await seed({ users: people(), channels: [item("C1", "general"), item("C2", "random", "inactive")] });
    await seedObject("crm_schema", { properties: ["email", "phone"] });

    const res = await contextOf({});

    expect(res.status).toBe(200);
    const data = res.body.data!;
    expect(Object.keys(data.referenceData).sort()).toEqual(["channels", "users"]);
    expect(data.referenceData.channels).toEqual([{ id: "C1", name: "general", metadata: { title: "title of C1" } }]);
    expect(data.referenceData.users?.map((u) => u.id)).toEqual(["U1", "U2", "U3", "U4"]);
    expect(data.objects).toEqual({ crm_schema: { properties: ["email", "phone"] } });
    expect(data.truncated).toEqual({ channels: false, crm_schema: false, users: false });
    expect(data.text).toContain('{"id":"U2","name":"Sarah Chen","metadata":{"title":"title of U2"}}');
    expect(data.estimatedTokens).toBe(Math.ceil(data.text.length / 4));
  });

  it("puts the items matching the query first and stays within maxTokens, pointing at lookup for the rest", async () => {
    const many = Array.from({ length: 400 }, (_, i) => item(`U${String(i).padStart(3, "0")}`, `Person ${i}`));
    await seed({ users: [...many, item("U999", "Zed Quigley")] });

    const res = await contextOf({ dataTypes: "users", maxTokens: "300", query: "ask Zed Quigley about it" });

    expect(res.status).toBe(200);
    const data = res.body.data!;
    expect(data.referenceData.users?.[0]).toMatchObject({ id: "U999", name: "Zed Quigley" });
    expect(data.estimatedTokens).toBeLessThanOrEqual(300);
    expect(data.truncated.users).toBe(true);
    expect(data.text).toContain("/api/v1/integrations/slack/reference-data/users/lookup?query=<name>");
  });

  it("leaves an object that does not fit out, with a note", async () => {
    await seed({ users: people() });
    await seedObject("crm_schema", { blob: "x".repeat(20_000) });

    const res = await contextOf({ dataTypes: "crm_schema,users", maxTokens: "1000" });

    expect(res.status).toBe(200);
    expect(res.body.data?.objects).toEqual({});
    expect(res.body.data?.truncated).toEqual({ crm_schema: true, users: false });
    expect(res.body.data?.text).toContain("crm_schema is too large");
  });

  it("is 404 naming a requested type the connection does not have", async () => {
    await seed({ users: people() });
    const res = await contextOf({ dataTypes: "users,repos" });
    expect(res.status).toBe(404);
    expect(res.body.error?.details).toMatchObject({ dataTypes: ["repos"] });
  });

  it.each([
    [{ maxTokens: "99" }, "maxTokens"],
    [{ maxTokens: "lots" }, "maxTokens"],
    [{ dataTypes: "users,bad#type" }, "dataTypes"],
    [{ query: "q".repeat(1001) }, "query"],
  ])("rejects %j with a 400 naming the field", async (query, field) => {
    await seed({ users: people() });
    const res = await contextOf(query);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error?.details)).toContain(field);
  });
});
