/**
 * Tenant isolation where it is hardest to keep (issue 7), completing the API matrix of
 * test/integration/api/isolation.test.ts: there, tenant B probes tenant A's hand-written rows; here both tenants run
 * the same integration, data types and connection IDs, their data arrives through real syncs (worker, sample gateway),
 * both partitions sit at the SAME committed version, and every read is made with warm module-scope caches (the lookup
 * index cache), so a cache or cursor keyed without the tenant would leak. For every authenticated route × both
 * tenants: nothing of the other tenant in any answer, and one's own data where the route reads data. Cursors of every
 * paged route are refused across tenants while one's own walk covers exactly one's own items; lookups, search and
 * context never match the other tenant's names or IDs; writes by one leave every row of the other untouched.
 */
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  defaultDatasets,
  SAMPLE_SOURCES,
  type SampleDatasets,
  type SlackUser,
  sampleGatewayKey,
} from "../../../infra/local/sample-gateway/index.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { sourceInputSchema } from "../../../shared/domain/source-config.js";
import type { ApiHandler } from "../../../shared/http/middleware.js";
import { type ApiFunctionName, ROUTES, type RouteDefinition } from "../../../shared/http/routes.js";
import { getRuntime } from "../../../shared/runtime.js";
import { apiEvent, lambdaContext, type ParsedResponse, parseResponse } from "../../support/api-events.js";
import { useWorldRuntime } from "../../support/reliability/handler-env.js";
import { freshWorld, type Servers, type SourceSpec, startServers, type World } from "../../support/sync-harness.js";

interface Tenant {
  id: string;
  /** Strings found only in this tenant's data. */
  markers: string[];
  data: SampleDatasets;
  jobIds: string[];
}

// Waygate connection IDs are UUIDs: a tenant with gateway credentials may enroll nothing else (or `default`).
const CONN_1 = "5f0c2a6e-8d4b-4c1f-9a7e-2b3d4c5e6f70";
const CONNECTIONS = ["default", CONN_1];
const DATA_TYPES = ["users", "channels"];

function tenantData(tag: string, prefix: string): SampleDatasets {
  const data = defaultDatasets();
  data.slackUsers = Array.from(
    { length: 12 },
    (_, i): SlackUser => ({
      id: `U${prefix}${String(i).padStart(6, "0")}`,
      team_id: `T${prefix}`,
      name: `${tag.toLowerCase()}${i}`,
      deleted: false,
      is_bot: false,
      is_admin: false,
      updated: 1_735_689_600,
      profile: {
        real_name: `${tag} Person${i}`,
        display_name: `${tag.toLowerCase()}${i}`,
        email: `p${i}@${tag.toLowerCase()}.example`,
      },
    }),
  );
  data.slackChannels = data.slackChannels.map((channel, i) => ({
    ...channel,
    id: `C${prefix}${String(i).padStart(6, "0")}`,
    name: `${tag.toLowerCase()}-${channel.name}`,
    topic: { value: `${tag} topic ${i}` },
  }));
  return data;
}

const A: Tenant = {
  id: "acme",
  markers: ["Acme", "acme", "UAAA", "CAAA"],
  data: tenantData("Acme", "AAA"),
  jobIds: [],
};
const B: Tenant = {
  id: "globex",
  markers: ["Globex", "globex", "UBBB", "CBBB"],
  data: tenantData("Globex", "BBB"),
  jobIds: [],
};

let servers: Servers;
let world: World;
let restore: () => void;
const handlers: Partial<Record<ApiFunctionName, ApiHandler>> = {};

function sources(): SourceSpec[] {
  return DATA_TYPES.map((dataType) => {
    const sample = SAMPLE_SOURCES.find((s) => s.integrationId === "slack" && s.dataType === dataType);
    if (!sample) throw new Error(`no sample source ${dataType}`);
    return {
      integrationSlug: sample.integrationSlug,
      actionSlug: sample.actionSlug,
      referenceData: sample.referenceData,
    };
  });
}

async function call(
  tenant: Tenant | null,
  method: string,
  path: string,
  query: Record<string, string> = {},
  body?: unknown,
) {
  // API Gateway's rule: a literal segment beats a {param}, so the template with the fewest params wins.
  const route = ROUTES.filter((r) => r.method === method && matches(r.path, path)).sort(
    (x, y) => x.path.split("{").length - y.path.split("{").length,
  )[0];
  if (!route) throw new Error(`no route ${method} ${path}`);
  const handler = handlers[route.function];
  if (!handler) throw new Error(`no handler ${route.function}`);
  const event = apiEvent({
    method,
    path,
    query,
    ...(body === undefined ? {} : { body }),
    caller: tenant ? { tenantId: tenant.id } : null,
  });
  return parseResponse(await handler(event, lambdaContext()));
}

function matches(template: string, path: string): boolean {
  const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
  return pattern.test(path);
}

async function rowsOf(tenantId: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await servers.dynamo.doc.send(
      new ScanCommand({ TableName: world.tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
    );
    for (const row of page.Items ?? []) {
      if (String(row.PK).startsWith(`T#${tenantId}#`) || row.PK === `T#${tenantId}`) rows.push(row);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return rows.sort((x, y) => `${x.PK}|${x.SK}`.localeCompare(`${y.PK}|${y.SK}`));
}

function expectNoneOf(res: ParsedResponse, other: Tenant, what: string): void {
  const text = JSON.stringify(res.body);
  expect(res.status, `${what}: ${text.slice(0, 300)}`).toBeLessThan(500);
  for (const marker of [...other.markers, ...other.jobIds])
    expect(text, `${what} leaked ${marker}`).not.toContain(marker);
}

const base = "/api/v1/integrations/slack/reference-data";

beforeAll(async () => {
  servers = await startServers();
  world = await freshWorld(servers);
  restore = useWorldRuntime(world);
  handlers["api-query"] = (await import("../../../functions/api-query/handler.js")).handler;
  handlers["api-sync"] = (await import("../../../functions/api-sync/handler.js")).handler;
  handlers["api-config"] = (await import("../../../functions/api-config/handler.js")).handler;
  // The same IDs for both tenants; each tenant's data is what the upstream held when its partitions synced.
  for (const tenant of [A, B]) {
    await world.seed({ tenantId: tenant.id, integrationId: "slack", sources: sources(), connections: CONNECTIONS });
    // Each tenant's own Waygate key, stored encrypted, and a discovered source the PATCH route can extend.
    const cipher = getRuntime().keyCipher;
    if (!cipher) throw new Error("no key cipher");
    const ciphertext = await cipher.encrypt(tenant.id, sampleGatewayKey(tenant.id));
    await world.repos.tenants.putCredentials(tenant.id, { ciphertext, version: "v1", keyHint: "wg_sampl…", now: 0 });
    const [users] = sources();
    if (!users) throw new Error("no users source");
    const discovered = { ...users.referenceData, dataType: "members", syncable: false } as Record<string, unknown>;
    await world.repos.sources.put(
      tenant.id,
      "slack",
      "members",
      sourceInputSchema.parse({ ...users, referenceData: discovered }),
      world.clock.now(),
      { origin: "discovered", discoveredConfig: discovered },
    );
  }
  for (const tenant of [A, B]) {
    world.gateway.data = tenant.data;
    const now = world.clock.now();
    // Plan only this tenant's partitions: claim them through the trigger route, as a user would.
    const trigger = await call(tenant, "POST", `${base}/sync`, {}, {});
    expect(trigger.status, JSON.stringify(trigger.body)).toBe(202);
    await world.drain();
    const jobs = await world.jobs(tenant.id, "slack");
    tenant.jobIds = jobs.map((job) => job.jobId);
    expect(jobs.map((job) => job.status)).toEqual(jobs.map(() => "completed"));
    world.clock.advanceTo(now + 1_000);
  }
  for (const connectionId of CONNECTIONS) {
    for (const dataType of DATA_TYPES) {
      const version = async (tenantId: string) =>
        (await world.partition({ tenantId, integrationId: "slack", connectionId, dataType } as PartitionRef)).version;
      // Same committed version on both sides: a cache keyed without the tenant would serve one to the other.
      expect(await version(A.id)).toBe(1);
      expect(await version(B.id)).toBe(1);
    }
  }
});
afterAll(async () => {
  restore?.();
  await servers?.stop();
});

/** One request per authenticated route, reading or changing the IDs both tenants share. */
function requestsFor(
  route: RouteDefinition,
  tenant: Tenant,
): { path: string; query: Record<string, string>; body?: unknown }[] {
  const fill = (dataType: string, connectionId = CONN_1) =>
    route.path
      .replace("{integrationId}", "slack")
      .replace("{dataType}", dataType)
      .replace("{connectionId}", connectionId);
  const other = tenant === A ? B : A;
  switch (route.operationId) {
    case "listReferenceData":
      return [
        { path: fill("users"), query: { status: "all" } },
        { path: fill("users"), query: { search: other.markers[0] ?? "" } },
        { path: fill("users"), query: { summary: "true", connectionId: CONN_1 } },
      ];
    case "getReferenceDataByType":
      return DATA_TYPES.map((dataType) => ({ path: fill(dataType), query: { status: "all" } }));
    case "lookup":
      return [
        { path: fill("users"), query: { query: `${other.markers[0]} Person3` } },
        { path: fill("users"), query: { query: `U${other === A ? "AAA" : "BBB"}000003`, includeInactive: "true" } },
        { path: fill("channels"), query: { query: `#${other.markers[1]}-general` } },
      ];
    case "getContext":
      return [{ path: fill("users"), query: { query: `${other.markers[0]} Person1`, maxTokens: "20000" } }];
    case "getSyncStatus":
      return [{ path: fill("users"), query: {} }];
    case "triggerSync":
      return [{ path: fill("users"), query: {}, body: { connectionId: CONN_1, dataType: "users", force: true } }];
    case "listIntegrations":
    case "listSources":
    case "getSource":
    case "listConnections":
      return [{ path: fill("users"), query: {} }];
    case "putSource":
      return [{ path: fill("channels"), query: {}, body: sources()[1] }];
    case "deleteSource":
      return [{ path: fill("channels"), query: {} }];
    case "enrollConnection":
    case "revokeConnection":
      return [{ path: fill("users", CONN_1), query: {} }];
    case "patchSource":
      return [{ path: fill("members"), query: {}, body: { extensions: { request: { limit: 5 } } } }];
    case "putGatewayCredentials":
      return [{ path: route.path, query: {}, body: { apiKey: sampleGatewayKey(tenant.id) } }];
    case "getGatewayCredentials":
    case "deleteGatewayCredentials":
    case "getDiscovery":
    case "runDiscovery":
      return [{ path: route.path, query: {} }];
    case "getChanges":
      return [
        { path: fill("users"), query: { dataType: "users" } },
        { path: fill("users"), query: { connectionId: CONN_1 } },
      ];
    case "patchConnection":
      // `default`: the matrix revoked conn-1 just before (a PATCH of a revoked connection is a 409).
      return [{ path: fill("users", "default"), query: {}, body: { ttlSeconds: 600 } }];
    case "putWebhook":
      return [{ path: route.path, query: {}, body: { url: "https://hooks.example.com/x" } }];
    case "deleteWebhook":
      return [{ path: route.path, query: {} }];
    // Tenant-level routes with nothing to read before a PUT or an erasure, and the erasure of the caller itself: the
    // webhook and lifecycle tests check that they touch only the caller's rows.
    case "getWebhook":
    case "getTenantErasure":
    case "eraseTenant":
      return [];
    default:
      throw new Error(`no request for ${route.operationId}: extend this matrix`);
  }
}

const READS = ROUTES.filter((r) => r.auth !== "public" && r.method === "GET");
const WRITES = ROUTES.filter((r) => r.auth !== "public" && r.method !== "GET");

describe("two tenants with the same IDs and the same versions, caches warm", () => {
  it("answer every read route with their own data and nothing of the other's", async () => {
    for (const tenant of [A, B, A]) {
      const other = tenant === A ? B : A;
      for (const route of READS) {
        for (const request of requestsFor(route, tenant)) {
          const res = await call(tenant, route.method, request.path, request.query);
          const what = `${tenant.id} ${route.operationId} ${JSON.stringify(request.query)}`;
          expectNoneOf(res, other, what);
          expect(res.status, what).toBe(200);
        }
      }
      // Not vacuous: each tenant reads its own data through the same routes.
      const own = await call(tenant, "GET", `${base}/users`, { status: "all" });
      expect(JSON.stringify(own.body)).toContain(tenant.markers[0]);
      const found = await call(tenant, "GET", `${base}/users/lookup`, { query: `${tenant.markers[0]} Person3` });
      expect((found.body.data as { matches: { id: string }[] }).matches[0]?.id).toBe(
        `U${tenant === A ? "AAA" : "BBB"}000003`,
      );
    }
  });

  it("refuse each other's cursors on every paged route, and page through exactly their own items", async () => {
    const paged: { path: string; query: Record<string, string>; items: (data: unknown) => unknown[] }[] = [
      { path: base, query: { status: "all", limit: "5" }, items: (d) => d as unknown[] },
      { path: `${base}/users`, query: { status: "all", limit: "5" }, items: (d) => d as unknown[] },
      {
        path: `${base}/sync/status`,
        query: { limit: "1" },
        items: (d) => (d as { recentJobs: unknown[] }).recentJobs,
      },
    ];
    for (const { path, query, items } of paged) {
      for (const tenant of [A, B]) {
        const other = tenant === A ? B : A;
        const theirs = await call(other, "GET", path, query);
        const foreign = theirs.body.pagination?.cursor;
        expect(foreign, `${path} gives ${other.id} a cursor`).toEqual(expect.any(String));

        const refused = await call(tenant, "GET", path, { ...query, cursor: foreign ?? "" });
        expect(refused.status, `${tenant.id} with ${other.id}'s cursor on ${path}`).toBe(400);
        expectNoneOf(refused, other, `${path} refused cursor`);

        const seen: unknown[] = [];
        let cursor: string | null | undefined;
        for (let page = 0; page < 50; page++) {
          const res = await call(tenant, "GET", path, cursor ? { ...query, cursor } : query);
          expect(res.status).toBe(200);
          expectNoneOf(res, other, `${tenant.id} ${path} page ${page}`);
          seen.push(...items(res.body.data));
          cursor = res.body.pagination?.cursor;
          if (!cursor) break;
        }
        // Without a connection named, list and by type span both connections (each synced the same upstream data):
        // users and channels twice; users twice; the four initial jobs of the tenant.
        const perConnection = path === base ? 12 + tenant.data.slackChannels.length : 12;
        const expected = path.endsWith("status") ? 4 : perConnection * CONNECTIONS.length;
        expect(seen, `${tenant.id} walked ${path}`).toHaveLength(expected);
      }
    }
  });

  it("change nothing of each other's with every write route, and keep serving each their own data", async () => {
    for (const tenant of [B, A]) {
      const other = tenant === A ? B : A;
      world.clock.advance(120_000);
      const before = await rowsOf(other.id);
      const depth = (await world.depth()).visible;

      for (const route of WRITES) {
        for (const request of requestsFor(route, tenant)) {
          const res = await call(tenant, route.method, request.path, request.query, request.body);
          expectNoneOf(res, other, `${tenant.id} ${route.operationId}`);
          expect(res.status, `${tenant.id} ${route.operationId} ${JSON.stringify(res.body)}`).toBeLessThan(300);
        }
      }

      expect(await rowsOf(other.id)).toEqual(before);
      const { results } = await world.drain();
      expect(results.length).toBeGreaterThan(depth);
      for (const result of results) {
        if (result.status === "synced" && "jobId" in result.outcome && result.outcome.jobId) {
          expect(other.jobIds).not.toContain(result.outcome.jobId);
        }
      }
      expect(await rowsOf(other.id)).toEqual(before);
      const still = await call(other, "GET", `${base}/users/lookup`, { query: `${other.markers[0]} Person3` });
      expect((still.body.data as { matches: unknown[] }).matches.length).toBeGreaterThan(0);
    }
  });
});
