/**
 * The tenant isolation matrix: for every authenticated route, tenant B's key on tenant A's integration (same
 * integration, data type and connection IDs) sees nothing of A's and changes nothing of A's — first while B has no
 * configuration of its own, then after B configured the same IDs for itself, so B's requests reach real data paths.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Item } from "../../../shared/domain/entities.js";
import { ROUTES, type RouteDefinition } from "../../../shared/http/routes.js";
import {
  caller,
  completeSync,
  freshStack,
  type Handler,
  listSource,
  type Servers,
  type Stack,
  seedIntegration,
  startServers,
} from "./fixture.js";
import { concretePath, loadApiHandlers } from "./handlers.js";

const A = "tenant-a";
const B = "tenant-b";
/** Strings that exist only in A's data, never in B's requests: none may appear in a response to B. */
const A_MARKERS = ["a-secret-action", "Alice Secretname", "U-ALICE-1", "01JOBTENANTA"];

let servers: Servers;
let stack: Stack;
let handlers: Awaited<ReturnType<typeof loadApiHandlers>>;

function itemOf(externalId: string, name: string): Item {
  const at = new Date(stack.clock.now()).toISOString();
  return {
    externalId,
    name,
    lookup: { name },
    metadata: { email: `${externalId.toLowerCase()}@a.example` },
    status: "active",
    contentHash: `hash-${externalId}`,
    jobId: "01JOBTENANTA00000000000001",
    change: "created",
    createdAt: at,
    updatedAt: at,
  };
}

beforeAll(async () => {
  servers = await startServers();
  stack = await freshStack(servers);
  handlers = await loadApiHandlers();
  for (const dataType of ["users", "channels"]) {
    await stack.repos.sources.put(
      A,
      "slack",
      dataType,
      { ...listSource(dataType), actionSlug: "a-secret-action" },
      stack.clock.now(),
    );
  }
  const refs = await seedIntegration(stack, {
    tenantId: A,
    integrationId: "slack",
    dataTypes: ["users", "channels"],
    connections: ["default", "conn-1"],
  });
  for (const [i, ref] of refs.entries()) {
    await stack.repos.items.batchPut(ref, [itemOf("U-ALICE-1", "Alice Secretname"), itemOf(`U-${i}`, `Other ${i}`)]);
    await completeSync(stack, ref, { jobId: `01JOBTENANTA000000000000${i}0`, itemCount: 2 });
  }
  // A's keys too: listing keys is not an API route, but the rows must survive B's requests.
  await stack.repos.apiKeys.create(A, { name: "a-key", scopes: ["read"], now: stack.clock.now() });
});
afterAll(async () => {
  await servers.stop();
});

const params = { integrationId: "slack", dataType: "users", connectionId: "conn-1" };

function requestFor(route: RouteDefinition) {
  const body =
    route.operationId === "putSource"
      ? { ...listSource("users"), actionSlug: "b-action" }
      : route.method === "POST"
        ? {}
        : undefined;
  const query: Record<string, string> = {};
  if (route.operationId === "lookup") query.query = "alice";
  if (route.operationId === "getContext") query.query = "alice";
  return { method: route.method, path: concretePath(route.path, params), body, query, caller: caller(B) };
}

async function runMatrix(): Promise<{ route: string; status: number; body: string }[]> {
  const results: { route: string; status: number; body: string }[] = [];
  // Reads first, then writes, then reads again: a write by B must not make A's data visible either.
  const authed = ROUTES.filter((r) => r.auth !== "public" && handlers[r.function] !== undefined);
  const ordered = [
    ...authed.filter((r) => r.method === "GET"),
    ...authed.filter((r) => r.method !== "GET"),
    ...authed.filter((r) => r.method === "GET"),
  ];
  for (const route of ordered) {
    const handler = handlers[route.function] as Handler;
    const res = await stack.call(handler, requestFor(route));
    results.push({ route: route.operationId, status: res.status, body: JSON.stringify(res.body) });
  }
  return results;
}

describe("tenant isolation", () => {
  it("covers every authenticated route of the query, sync and config functions", () => {
    const covered = ROUTES.filter((r) => r.auth !== "public" && handlers[r.function] !== undefined).map(
      (r) => r.operationId,
    );
    expect(covered).toEqual(
      expect.arrayContaining([
        "triggerSync",
        "getSyncStatus",
        "listSources",
        "getSource",
        "putSource",
        "deleteSource",
        "listConnections",
        "enrollConnection",
        "revokeConnection",
        "listReferenceData",
        "getReferenceDataByType",
        "lookup",
        "getContext",
      ]),
    );
  });

  it("B without configuration sees nothing of A's and changes nothing of A's, on every route", async () => {
    const before = await stack.tenantRows(A);
    await stack.drain();

    const results = await runMatrix();

    for (const r of results) {
      expect(r.status, `${r.route}: ${r.body}`).toBeLessThan(500);
      for (const marker of A_MARKERS) expect(r.body, `${r.route} leaked ${marker}`).not.toContain(marker);
    }
    // The first answer of each route: reads see nothing (404 or empty), writes act on B's own namespace only.
    const first = (route: string) => results.find((r) => r.route === route)?.status;
    expect(first("getSource")).toBe(404);
    expect(first("getSyncStatus")).toBe(404);
    expect(first("triggerSync")).toBe(404);
    expect(first("putSource")).toBe(201);
    expect(first("deleteSource")).toBe(200);
    expect(first("enrollConnection")).toBe(201);
    expect(first("revokeConnection")).toBe(200);
    expect(results.find((r) => r.route === "listSources")?.body).toBe('{"success":true,"data":[]}');
    expect(results.find((r) => r.route === "listConnections")?.body).toBe('{"success":true,"data":[]}');
    expect(await stack.tenantRows(A)).toEqual(before);
    const messages = await stack.drain();
    expect(messages.filter((m) => m.tenantId === A)).toEqual([]);
  });

  it("B with the same IDs configured for itself still sees and changes only its own data", async () => {
    await seedIntegration(stack, {
      tenantId: B,
      integrationId: "slack",
      dataTypes: ["users", "channels"],
      connections: ["default", "conn-1"],
    });
    stack.clock.t += 120_000;
    const before = await stack.tenantRows(A);
    await stack.drain();

    const results = await runMatrix();

    for (const r of results) {
      expect(r.status, `${r.route}: ${r.body}`).toBeLessThan(500);
      for (const marker of A_MARKERS) expect(r.body, `${r.route} leaked ${marker}`).not.toContain(marker);
    }
    const trigger = results.find((r) => r.route === "triggerSync");
    expect(trigger?.status).toBe(202);
    expect(await stack.tenantRows(A)).toEqual(before);
    const messages = await stack.drain();
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.every((m) => m.tenantId === B)).toBe(true);
  });

  it("rejects A's cursors presented by B with 400, on the query and the status routes", async () => {
    const pages = [
      {
        fn: "api-query",
        template: "/api/v1/integrations/{integrationId}/reference-data",
        query: { connectionId: "default" },
      },
      { fn: "api-sync", template: "/api/v1/integrations/{integrationId}/reference-data/sync/status", query: {} },
    ] as const;
    for (const page of pages) {
      const handler = handlers[page.fn] as Handler;
      const path = concretePath(page.template, params);
      const own = await stack.call(handler, {
        method: "GET",
        path,
        query: { ...page.query, limit: "1" },
        caller: caller(A),
      });
      const cursor = own.body.pagination?.cursor;
      expect(cursor, page.template).toEqual(expect.any(String));

      const res = await stack.call(handler, {
        method: "GET",
        path,
        query: { ...page.query, limit: "1", cursor: cursor ?? "" },
        caller: caller(B),
      });

      expect(res.status, page.template).toBe(400);
      expect(res.body.error?.code).toBe("INVALID_REQUEST");
    }
  });

  it("A's own key still reads A's data afterwards (the matrix is not vacuous)", async () => {
    const handler = handlers["api-sync"] as Handler;

    const res = await stack.call(handler, {
      method: "GET",
      path: concretePath("/api/v1/integrations/{integrationId}/reference-data/sync/status", params),
      caller: caller(A),
    });

    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).toContain("01JOBTENANTA");

    const lookup = await stack.call(handlers["api-query"] as Handler, {
      method: "GET",
      path: concretePath("/api/v1/integrations/{integrationId}/reference-data/{dataType}/lookup", params),
      query: { query: "alice", connectionId: "default" },
      caller: caller(A),
    });
    expect(lookup.status).toBe(200);
    expect(JSON.stringify(lookup.body)).toContain("U-ALICE-1");
  });
});
