import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler } from "../../../functions/api-config/handler.js";
import { fanoutMessageSchema } from "../../../shared/domain/sync-message.js";
import { ROUTES } from "../../../shared/http/routes.js";
import { LEASE_MS, REQUEUE_WINDOW_MS } from "../../../shared/sync/durations.js";
import { FANOUT_INLINE_LIMIT } from "../../../shared/sync/partitions.js";
import { apiEvent, lambdaContext } from "../../support/api-events.js";
import { caller, freshStack, listSource, type Servers, seedIntegration, startServers } from "./fixture.js";

const A = "tenant-a";
const sources = "/api/v1/integrations/slack/reference-data/sources";
const connections = "/api/v1/integrations/slack/connections";

let servers: Servers;
beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});

interface PartitionChange {
  mode: string;
  created: number;
  existing: number;
  resumed: number;
  paused: number;
}

const ref = (connectionId: string, dataType: string) => ({
  tenantId: A,
  integrationId: "slack",
  connectionId,
  dataType,
});

describe("sources", () => {
  it("creates a source (201), creating a due partition per active connection, then replaces it (200)", async () => {
    const stack = await freshStack(servers);
    await stack.repos.connections.enroll(A, "slack", "default", stack.clock.now());
    await stack.repos.connections.enroll(A, "slack", "conn-1", stack.clock.now());
    await stack.repos.connections.enroll(A, "slack", "gone", stack.clock.now());
    await stack.repos.connections.revoke(A, "slack", "gone", stack.clock.now());

    const first = await stack.call<{ source: { revision: number }; partitions: PartitionChange }>(handler, {
      method: "PUT",
      path: `${sources}/users`,
      body: listSource("users"),
      caller: caller(A),
    });
    const second = await stack.call<{ source: { revision: number; actionSlug: string } }>(handler, {
      method: "PUT",
      path: `${sources}/users`,
      body: { ...listSource("users"), actionSlug: "users-list-v2" },
      caller: caller(A),
    });

    expect(first.status).toBe(201);
    expect(first.body.data?.source.revision).toBe(1);
    expect(first.body.data?.partitions).toEqual({ mode: "inline", created: 2, existing: 0, resumed: 0, paused: 0 });
    expect(second.status).toBe(200);
    expect(second.body.data?.source).toEqual(expect.objectContaining({ revision: 2, actionSlug: "users-list-v2" }));
    const partitions = await stack.repos.partitions.listByIntegration(A, "slack");
    expect(partitions.map((p) => `${p.connectionId}/${p.dataType}/${p.status}`).sort()).toEqual([
      "conn-1/users/idle",
      "default/users/idle",
    ]);
    expect(partitions.every((p) => p.nextSyncAt === new Date(stack.clock.now()).toISOString())).toBe(true);
  });

  it("lists and gets sources, with defaults applied", async () => {
    const stack = await freshStack(servers);
    await stack.call(handler, {
      method: "PUT",
      path: `${sources}/users`,
      body: listSource("users"),
      caller: caller(A),
    });
    await stack.call(handler, {
      method: "PUT",
      path: `${sources}/channels`,
      body: {
        integrationSlug: "slack",
        actionSlug: "conversations-list",
        referenceData: { dataType: "channels", extractionPath: "$.channels" },
      },
      caller: caller(A),
    });

    const list = await stack.call<{ dataType: string }[]>(handler, { method: "GET", path: sources, caller: caller(A) });
    const one = await stack.call<{ referenceData: Record<string, unknown> }>(handler, {
      method: "GET",
      path: `${sources}/channels`,
      caller: caller(A),
    });

    expect(list.body.data?.map((s) => s.dataType)).toEqual(["channels", "users"]);
    expect(one.body.data?.referenceData).toEqual(
      expect.objectContaining({ syncType: "list", idField: "id", nameField: "name", defaultTtlSeconds: 86_400 }),
    );
  });

  it("answers 404 for a source that does not exist", async () => {
    const stack = await freshStack(servers);

    const get = await stack.call(handler, { method: "GET", path: `${sources}/users`, caller: caller(A) });
    const del = await stack.call(handler, { method: "DELETE", path: `${sources}/users`, caller: caller(A) });

    expect(get.status).toBe(404);
    expect(del.status).toBe(404);
  });

  it.each([
    [
      "a malformed JSONPath",
      { referenceData: { dataType: "users", extractionPath: "$.members[" } },
      "referenceData.extractionPath",
    ],
    [
      "a filter expression",
      { referenceData: { dataType: "users", extractionPath: "$.members[?(@.x)]" } },
      "referenceData.extractionPath",
    ],
    ["a list without extractionPath", { referenceData: { dataType: "users" } }, "referenceData.extractionPath"],
    [
      "a TTL over a year",
      { referenceData: { dataType: "users", extractionPath: "$.m", defaultTtlSeconds: 31_536_001 } },
      "referenceData.defaultTtlSeconds",
    ],
    [
      "an unknown pagination strategy",
      { referenceData: { dataType: "users", extractionPath: "$.m", pagination: { strategy: "magic" } } },
      "referenceData.pagination.strategy",
    ],
    ["an unknown field", { referenceData: { dataType: "users", extractionPath: "$.m", extra: 1 } }, "referenceData"],
    [
      "a wrong type",
      { referenceData: { dataType: "users", extractionPath: "$.m", fuzzyMatch: "yes" } },
      "referenceData.fuzzyMatch",
    ],
    ["a bad action slug", { actionSlug: "has space" }, "actionSlug"],
    [
      "a dataType differing from the path",
      { referenceData: { dataType: "channels", extractionPath: "$.m" } },
      "referenceData.dataType",
    ],
  ])("answers 400 naming the field for %s, and saves nothing", async (_what, patch, field) => {
    const stack = await freshStack(servers);
    const body = { integrationSlug: "slack", actionSlug: "users-list", ...patch };

    const res = await stack.call(handler, { method: "PUT", path: `${sources}/users`, body, caller: caller(A) });

    expect(res.status).toBe(400);
    expect(res.body.error?.suggestedResolution?.action).toBe("RETRY_WITH_MODIFIED_INPUT");
    const fields = ((res.body.error?.details?.issues ?? []) as { field: string }[]).map((i) => i.field);
    expect(fields).toContain(field);
    expect(await stack.repos.sources.get(A, "slack", "users")).toBeUndefined();
  });

  it("answers 400 for a reserved data type in the path", async () => {
    const stack = await freshStack(servers);

    const res = await stack.call(handler, {
      method: "PUT",
      path: `${sources}/context`,
      body: listSource("context"),
      caller: caller(A),
    });

    expect(res.status).toBe(400);
  });

  it("deletes a source: pauses its partitions (source_deleted) and cancels their in-flight job", async () => {
    const stack = await freshStack(servers);
    await seedIntegration(stack, {
      tenantId: A,
      integrationId: "slack",
      dataTypes: ["users", "channels"],
      connections: ["default"],
    });
    const now = stack.clock.now();
    await stack.repos.partitions.claim(ref("default", "users"), {
      jobId: "01JOBDEL000000000000000001",
      now,
      requeueDeadline: now + REQUEUE_WINDOW_MS,
    });
    await stack.repos.jobs.create({
      ref: ref("default", "users"),
      jobId: "01JOBDEL000000000000000001",
      trigger: "manual",
      mode: "full",
      now,
    });

    const res = await stack.call<{ deleted: boolean; partitions: PartitionChange }>(handler, {
      method: "DELETE",
      path: `${sources}/users`,
      caller: caller(A),
    });

    expect(res.status).toBe(200);
    expect(res.body.data).toEqual(expect.objectContaining({ dataType: "users", deleted: true }));
    expect(res.body.data?.partitions.paused).toBe(1);
    expect(await stack.repos.sources.get(A, "slack", "users")).toBeUndefined();
    expect(await stack.repos.partitions.get(ref("default", "users"))).toEqual(
      expect.objectContaining({ status: "paused", pauseReason: "source_deleted" }),
    );
    expect((await stack.repos.partitions.get(ref("default", "channels")))?.status).toBe("idle");
    expect((await stack.repos.jobs.get(A, "slack", "01JOBDEL000000000000000001"))?.status).toBe("failed");
  });

  it("resumes source_deleted partitions when the source is saved again", async () => {
    const stack = await freshStack(servers);
    await seedIntegration(stack, {
      tenantId: A,
      integrationId: "slack",
      dataTypes: ["users"],
      connections: ["default"],
    });
    await stack.call(handler, { method: "DELETE", path: `${sources}/users`, caller: caller(A) });
    stack.clock.t += 5_000;

    const res = await stack.call<{ partitions: PartitionChange }>(handler, {
      method: "PUT",
      path: `${sources}/users`,
      body: listSource("users"),
      caller: caller(A),
    });

    expect(res.status).toBe(201);
    expect(await stack.repos.partitions.get(ref("default", "users"))).toEqual(
      expect.objectContaining({ status: "idle", nextSyncAt: new Date(stack.clock.now()).toISOString() }),
    );
  });

  it("pauses the partitions of a source saved with syncable: false", async () => {
    const stack = await freshStack(servers);
    await seedIntegration(stack, {
      tenantId: A,
      integrationId: "slack",
      dataTypes: ["users"],
      connections: ["default"],
    });

    const res = await stack.call<{ partitions: PartitionChange }>(handler, {
      method: "PUT",
      path: `${sources}/users`,
      body: listSource("users", { syncable: false }),
      caller: caller(A),
    });

    expect(res.status).toBe(200);
    expect(res.body.data?.partitions.paused).toBe(1);
    expect((await stack.repos.partitions.get(ref("default", "users")))?.status).toBe("paused");
  });

  it(`enqueues a fan-out message instead of creating more than ${FANOUT_INLINE_LIMIT} partitions inline`, async () => {
    const stack = await freshStack(servers);
    const ids = Array.from({ length: FANOUT_INLINE_LIMIT + 1 }, (_, i) => `conn-${i}`);
    for (let i = 0; i < ids.length; i += 25) {
      await Promise.all(
        ids.slice(i, i + 25).map((id) => stack.repos.connections.enroll(A, "slack", id, stack.clock.now())),
      );
    }

    const res = await stack.call<{ partitions: PartitionChange }>(handler, {
      method: "PUT",
      path: `${sources}/users`,
      body: listSource("users"),
      caller: caller(A),
    });

    expect(res.status).toBe(201);
    expect(res.body.data?.partitions.mode).toBe("fanout");
    expect(await stack.repos.partitions.listByIntegration(A, "slack")).toHaveLength(0);
    const messages = await stack.drain();
    expect(messages.map((m) => fanoutMessageSchema.parse(m))).toEqual([
      { v: 1, kind: "fanout", tenantId: A, integrationId: "slack", dataType: "users" },
    ]);
  });

  it("needs the admin scope", async () => {
    const stack = await freshStack(servers);

    const res = await stack.call(handler, {
      method: "PUT",
      path: `${sources}/users`,
      body: listSource("users"),
      caller: caller(A, ["read", "sync"]),
    });

    expect(res.status).toBe(403);
    expect(await stack.repos.sources.get(A, "slack", "users")).toBeUndefined();
  });
});

describe("connections", () => {
  it("enrolls a connection (201): creates its partitions for every syncable source, due now", async () => {
    const stack = await freshStack(servers);
    await stack.repos.sources.put(A, "slack", "users", listSource("users"), stack.clock.now());
    await stack.repos.sources.put(A, "slack", "channels", listSource("channels"), stack.clock.now());
    await stack.repos.sources.put(A, "slack", "off", listSource("off", { syncable: false }), stack.clock.now());

    const res = await stack.call<{ connection: { status: string }; partitions: PartitionChange }>(handler, {
      method: "PUT",
      path: `${connections}/conn-1`,
      caller: caller(A),
    });

    expect(res.status).toBe(201);
    expect(res.body.data?.connection.status).toBe("active");
    expect(res.body.data?.partitions).toEqual(expect.objectContaining({ mode: "inline", created: 2 }));
    const partitions = await stack.repos.partitions.listByIntegration(A, "slack", { connectionId: "conn-1" });
    expect(partitions.map((p) => p.dataType).sort()).toEqual(["channels", "users"]);

    const again = await stack.call(handler, { method: "PUT", path: `${connections}/conn-1`, caller: caller(A) });
    expect(again.status).toBe(200);
  });

  it("revokes a connection: pauses its partitions (revoked); re-enrolling resumes them due now", async () => {
    const stack = await freshStack(servers);
    await seedIntegration(stack, {
      tenantId: A,
      integrationId: "slack",
      dataTypes: ["users", "channels"],
      connections: ["conn-1", "conn-2"],
    });

    const revoke = await stack.call<{ connection: { status: string; revokedAt: string }; partitions: PartitionChange }>(
      handler,
      { method: "DELETE", path: `${connections}/conn-1`, caller: caller(A) },
    );

    expect(revoke.status).toBe(200);
    expect(revoke.body.data?.connection).toEqual(
      expect.objectContaining({ status: "revoked", revokedAt: expect.any(String) }),
    );
    expect(revoke.body.data?.partitions.paused).toBe(2);
    const paused = await stack.repos.partitions.listByIntegration(A, "slack", { connectionId: "conn-1" });
    expect(paused.every((p) => p.status === "paused" && p.pauseReason === "revoked")).toBe(true);
    const other = await stack.repos.partitions.listByIntegration(A, "slack", { connectionId: "conn-2" });
    expect(other.every((p) => p.status === "idle")).toBe(true);
    expect((await stack.repos.connections.get(A, "slack", "conn-1"))?.status).toBe("revoked");

    stack.clock.t += 10_000;
    const enroll = await stack.call<{ partitions: PartitionChange }>(handler, {
      method: "PUT",
      path: `${connections}/conn-1`,
      caller: caller(A),
    });

    expect(enroll.status).toBe(200);
    const resumed = await stack.repos.partitions.listByIntegration(A, "slack", { connectionId: "conn-1" });
    expect(resumed.map((p) => [p.status, p.nextSyncAt])).toEqual([
      ["idle", new Date(stack.clock.now()).toISOString()],
      ["idle", new Date(stack.clock.now()).toISOString()],
    ]);
  });

  it("re-enrolling resumes partitions paused for lost credentials", async () => {
    const stack = await freshStack(servers);
    await seedIntegration(stack, {
      tenantId: A,
      integrationId: "slack",
      dataTypes: ["users"],
      connections: ["conn-1"],
    });
    const r = ref("conn-1", "users");
    const now = stack.clock.now();
    await stack.repos.partitions.claim(r, {
      jobId: "01JOBCRED00000000000000001",
      now,
      requeueDeadline: now + REQUEUE_WINDOW_MS,
    });
    await stack.repos.partitions.acquireLease(r, {
      jobId: "01JOBCRED00000000000000001",
      owner: "w",
      now,
      leaseMs: LEASE_MS,
    });
    await stack.repos.partitions.recordFailure(r, {
      jobId: "01JOBCRED00000000000000001",
      owner: "w",
      now,
      error: { code: "CREDENTIALS_EXPIRED", message: "expired" },
      nextSyncAt: now,
      pause: "credentials",
    });

    const res = await stack.call(handler, { method: "PUT", path: `${connections}/conn-1`, caller: caller(A) });

    expect(res.status).toBe(200);
    expect((await stack.repos.partitions.get(r))?.status).toBe("idle");
  });

  it("lists connections with their status", async () => {
    const stack = await freshStack(servers);
    await stack.call(handler, { method: "PUT", path: `${connections}/default`, caller: caller(A) });
    await stack.call(handler, { method: "PUT", path: `${connections}/conn-1`, caller: caller(A) });
    await stack.call(handler, { method: "DELETE", path: `${connections}/conn-1`, caller: caller(A) });

    const res = await stack.call<{ connectionId: string; status: string }[]>(handler, {
      method: "GET",
      path: connections,
      caller: caller(A),
    });

    expect(res.body.data?.map((c) => [c.connectionId, c.status])).toEqual([
      ["conn-1", "revoked"],
      ["default", "active"],
    ]);
  });

  it("answers 404 when revoking a connection that was never enrolled", async () => {
    const stack = await freshStack(servers);

    const res = await stack.call(handler, { method: "DELETE", path: `${connections}/ghost`, caller: caller(A) });

    expect(res.status).toBe(404);
  });

  it("answers 400 for a connection ID with a key separator", async () => {
    const stack = await freshStack(servers);

    const res = await stack.call(handler, { method: "PUT", path: `${connections}/a%23b`, caller: caller(A) });

    expect(res.status).toBe(400);
    expect(res.body.error?.details?.issues).toEqual([expect.objectContaining({ field: "connectionId" })]);
  });
});

describe("GET /api/v1/openapi.json", () => {
  let doc: {
    openapi: string;
    paths: Record<
      string,
      Record<
        string,
        {
          operationId: string;
          security: unknown[];
          parameters: { name: string; in: string }[];
          requestBody?: unknown;
          responses: Record<string, unknown>;
        }
      >
    >;
  };
  beforeAll(async () => {
    const res = await handler(apiEvent({ method: "GET", path: "/api/v1/openapi.json", caller: null }), lambdaContext());
    expect(res.statusCode).toBe(200);
    doc = JSON.parse(res.body);
  });

  it("is served without authentication as an OpenAPI 3.1 document", () => {
    expect(doc.openapi).toBe("3.1.0");
  });

  it("documents every route of the route table, with its security", () => {
    for (const route of ROUTES) {
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      expect(op?.operationId, `${route.method} ${route.path}`).toBe(route.operationId);
      expect(op?.security).toEqual(route.auth === "public" ? [] : [{ apiKey: [] }]);
    }
  });

  it("derives parameters and bodies from the validation schemas", () => {
    const status = doc.paths["/api/v1/integrations/{integrationId}/reference-data/sync/status"]?.get;
    expect(status?.parameters.map((p) => `${p.in}:${p.name}`)).toEqual([
      "path:integrationId",
      "query:connectionId",
      "query:dataType",
      "query:status",
      "query:limit",
      "query:cursor",
    ]);
    const put = doc.paths["/api/v1/integrations/{integrationId}/reference-data/sources/{dataType}"]?.put;
    const body = JSON.stringify(put?.requestBody);
    expect(body).toContain("extractionPath");
    expect(body).toContain("fuzzyMatch");
    expect(Object.keys(put?.responses ?? {})).toEqual(expect.arrayContaining(["201", "400", "401", "403", "413"]));
    const lookup = doc.paths["/api/v1/integrations/{integrationId}/reference-data/{dataType}/lookup"]?.get;
    expect(lookup?.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(
      expect.arrayContaining(["path:dataType", "query:query", "query:connectionId", "query:limit"]),
    );
    const trigger = doc.paths["/api/v1/integrations/{integrationId}/reference-data/sync"]?.post;
    expect(Object.keys(trigger?.responses ?? {})).toContain("202");
  });
});
