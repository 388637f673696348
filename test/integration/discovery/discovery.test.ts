/**
 * Discovery against a Waygate-shaped gateway over loopback (listings one row per page, so every cursor is followed):
 * sources added, updated and removed from action metadata, manual sources left alone and reported as shadowing,
 * invalid configs reported with their field, connections enrolled, paused, resumed and revoked as Waygate's status
 * changes, extensions kept across rediscovery, and a listing that fails halfway changing nothing. Runs go through
 * the queue: `discover` messages handled by the worker.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SampleTenant, sampleUuid } from "../../../infra/local/sample-gateway/index.js";
import { putSource } from "../../../shared/api/config/sources.js";
import { getDiscovery, patchSourceExtensions, postDiscovery } from "../../../shared/api/discovery/operations.js";
import { createFileKeyCipher } from "../../../shared/credentials/cipher.js";
import { saveCredentials } from "../../../shared/credentials/credentials-service.js";
import { createTenantKeyProvider } from "../../../shared/credentials/key-provider.js";
import { discoverTenant } from "../../../shared/discovery/run-discovery.js";
import {
  DEFAULT_DISCOVERY_INTERVAL_SECONDS,
  planDiscoveries,
  requestDiscovery,
} from "../../../shared/discovery/schedule.js";
import type { DiscoveryCounts } from "../../../shared/domain/discovery.js";
import { sourceInputSchema } from "../../../shared/domain/source-config.js";
import type { ServiceEvent } from "../../../shared/events/events.js";
import { createGatewayClient } from "../../../shared/gateway/client.js";
import { createLogger } from "../../../shared/log.js";
import { DEFAULT_QUOTAS } from "../../../shared/quotas.js";
import { createEnv, type Env, type Servers, startServers } from "../../support/sync-harness.js";

const TENANT = "acme";
const KEY = "wg_live_acme_discovery_0123456789";
const silent = createLogger({}, "silent");

let servers: Servers;
let env: Env;
let upstream: SampleTenant;
const events: ServiceEvent[] = [];
const SLACK = sampleUuid("acme-upstream", "slack");
const GITHUB = sampleUuid("acme-upstream", "github");
const PRIMARY = sampleUuid("acme-upstream", "slack", "conn", "primary");
const SECOND = sampleUuid("acme-upstream", "slack", "conn", "second");
const OLD = sampleUuid("acme-upstream", "slack", "conn", "old");

const configDeps = () => ({ repos: env.repos, queue: env.queue, clock: env.clock, log: silent });

/** Queues a run and lets the worker take it; returns the report. */
async function discover(): Promise<DiscoveryCounts & { status: string; error?: { code: string } }> {
  env.clock.advance(1_000);
  await requestDiscovery(configDeps(), TENANT);
  await env.drain();
  return getDiscovery({ repos: env.repos }, TENANT);
}

const slackIntegration = () => {
  const slack = upstream.catalog.integrations.find((i) => i.slug === "slack");
  if (!slack) throw new Error("no slack in the catalog");
  return slack;
};

beforeAll(async () => {
  servers = await startServers({ listingPageSize: 1 });
  const cipher = createFileKeyCipher(join(mkdtempSync(join(tmpdir(), "rds-discovery-")), "credentials.key"));
  env = await createEnv(
    servers,
    {},
    { storedKeys: cipher },
    { events: { publish: async (e) => void events.push(...e) } },
  );
  upstream = servers.gateway.addTenant({ tenantId: "acme-upstream", apiKey: KEY });
  // A source saved by hand for the same integration and data type as a discovered one: it must win.
  await putSource(
    configDeps(),
    { tenantId: TENANT, integrationId: SLACK, dataType: "channels" },
    sourceInputSchema.parse({
      integrationSlug: "slack",
      actionSlug: "list-channels",
      referenceData: {
        dataType: "channels",
        extractionPath: "$.channels[*]",
        nameField: "name",
        defaultTtlSeconds: 600,
      },
    }),
  );
  await saveCredentials({ ...configDeps(), cipher, gatewayUrl: servers.gateway.url }, TENANT, { apiKey: KEY });
  await env.drain();
});

afterAll(async () => {
  await servers?.stop();
});

describe("discovery", () => {
  it("adds the syncable actions as sources and enrolls the connections, following every listing page", async () => {
    const report = await getDiscovery({ repos: env.repos }, TENANT);
    expect(report).toMatchObject({
      status: "completed",
      integrations: 4,
      // users (Slack), repositories, users (Graph), crm_schema; Slack's channels is shadowed by the manual source.
      sources: { added: 4, updated: 0, removed: 0, shadowed: 1 },
      connections: { enrolled: 5, paused: 1, revoked: 0 },
    });
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          integrationId: SLACK,
          actionSlug: "list-user-groups",
          code: "INVALID_CONFIG",
          field: "metadata.referenceData.extractionPath",
        }),
        expect.objectContaining({ integrationId: SLACK, actionSlug: "list-channels", code: "SHADOWED" }),
        expect.objectContaining({ code: "PAGINATION_UNSUPPORTED", field: "paginationConfig.type" }),
      ]),
    );
    // One row per page: the integrations listing alone took five pages, and every call carried the tenant's key.
    expect(servers.gateway.listings.filter((l) => l.path === "/api/v1/integrations").length).toBeGreaterThanOrEqual(5);
    expect(servers.gateway.listings.every((l) => l.apiKey === KEY)).toBe(true);

    const users = await env.repos.sources.get(TENANT, SLACK, "users");
    expect(users).toMatchObject({ origin: "discovered", integrationSlug: "slack", actionSlug: "list-users" });
    // Waygate's `members[*]` read as `$.members[*]`; pagination from the action's shape-B paginationConfig.
    expect(users?.referenceData).toMatchObject({
      extractionPath: "$.members[*]",
      pagination: { strategy: "cursor", cursorParam: "cursor", limitParam: "limit", pageSize: 200 },
    });
    const repos = await env.repos.sources.get(TENANT, GITHUB, "repositories");
    expect(repos?.referenceData.pagination).toMatchObject({ strategy: "page", pageParam: "page", pageSize: 5 });
    // The manual source is untouched.
    expect(await env.repos.sources.get(TENANT, SLACK, "channels")).toMatchObject({
      origin: "manual",
      revision: 1,
      referenceData: { defaultTtlSeconds: 600 },
    });
    const connections = await env.repos.connections.list(TENANT, SLACK);
    expect(connections.find((c) => c.connectionId === PRIMARY)).toMatchObject({ status: "active", isPrimary: true });
    expect(connections.find((c) => c.connectionId === SECOND)).toMatchObject({ status: "active", isPrimary: false });
    const old = await env.repos.partitions.listByIntegration(TENANT, SLACK, { connectionId: OLD });
    expect(old.length).toBeGreaterThan(0);
    expect(old.every((p) => p.status === "paused" && p.pauseReason === "connection_disabled")).toBe(true);
    // After the run committed, one `Discovery Completed` event with its counts.
    expect(events).toEqual([
      expect.objectContaining({
        "detail-type": "Discovery Completed",
        detail: expect.objectContaining({ tenantId: TENANT, sources: expect.objectContaining({ added: 4 }) }),
      }),
    ]);
    const primaryPartitions = await env.repos.partitions.listByIntegration(TENANT, SLACK, { connectionId: PRIMARY });
    expect(primaryPartitions.map((p) => [p.dataType, p.status]).sort()).toEqual([
      ["channels", "idle"],
      ["users", "idle"],
    ]);
  });

  it("keeps extensions across rediscovery and updates a source whose action changed", async () => {
    await patchSourceExtensions(
      configDeps(),
      { tenantId: TENANT, integrationId: SLACK, dataType: "users" },
      { extensions: { deletedField: "deleted" } },
    );
    const action = slackIntegration().actions.find((a) => a.slug === "list-users");
    if (!action) throw new Error("no list-users");
    (action.metadata.referenceData as Record<string, unknown>).nameField = "name";

    const report = await discover();

    expect(report.sources).toMatchObject({ added: 0, updated: 1, removed: 0 });
    const users = await env.repos.sources.get(TENANT, SLACK, "users");
    expect(users?.referenceData).toMatchObject({ nameField: "name", deletedField: "deleted" });
    expect(users?.extensions).toEqual({ deletedField: "deleted" });
  });

  it("pauses a connection Waygate reports in error, resumes it when active, revokes it when gone", async () => {
    const second = slackIntegration().connections.find((c) => c.id === SECOND);
    if (!second) throw new Error("no second connection");
    second.status = "error";
    expect((await discover()).connections).toMatchObject({ paused: 1 });
    const errored = await env.repos.partitions.listByIntegration(TENANT, SLACK, { connectionId: SECOND });
    expect(errored.every((p) => p.status === "paused" && p.pauseReason === "connection_error")).toBe(true);

    second.status = "active";
    await discover();
    const resumed = await env.repos.partitions.listByIntegration(TENANT, SLACK, { connectionId: SECOND });
    expect(resumed.every((p) => p.status === "idle")).toBe(true);

    slackIntegration().connections = slackIntegration().connections.filter((c) => c.id !== SECOND);
    expect((await discover()).connections).toMatchObject({ revoked: 1 });
    expect((await env.repos.connections.get(TENANT, SLACK, SECOND))?.status).toBe("revoked");
    // The manual connection-free config is untouched; the primary stays.
    expect((await env.repos.connections.get(TENANT, SLACK, PRIMARY))?.status).toBe("active");
  });

  it("changes nothing when a listing fails halfway", async () => {
    const before = await env.repos.sources.list(TENANT, GITHUB);
    // GitHub's action is gone upstream, but the connections listing fails: nothing may be removed or revoked.
    const github = upstream.catalog.integrations.find((i) => i.slug === "github");
    if (!github) throw new Error("no github");
    const actions = github.actions;
    github.actions = [];
    // Every attempt of the client (3 in this harness) at one connections listing fails.
    for (let i = 0; i < 3; i++)
      servers.gateway.failNextListing({ status: 503, code: "CIRCUIT_OPEN" }, `${GITHUB}/connections`);

    const report = await discover();

    expect(report.status).toBe("failed");
    expect(report.error?.code).toBe("CIRCUIT_OPEN");
    expect(report.sources).toMatchObject({ added: 0, updated: 0, removed: 0 });
    expect(await env.repos.sources.list(TENANT, GITHUB)).toEqual(before);
    expect((await env.repos.connections.list(TENANT, SLACK)).filter((c) => c.status === "active")).toHaveLength(2);
    github.actions = actions;
  });

  it("removes a discovered source whose action is gone, keeping its data and leaving the manual one alone", async () => {
    const slack = slackIntegration();
    const users = slack.actions.find((a) => a.slug === "list-users");
    slack.actions = slack.actions.filter((a) => a.slug !== "list-users");

    const report = await discover();

    expect(report.sources).toMatchObject({ removed: 1 });
    expect(await env.repos.sources.get(TENANT, SLACK, "users")).toBeUndefined();
    const partitions = await env.repos.partitions.listByIntegration(TENANT, SLACK, { dataType: "users" });
    expect(partitions.every((p) => p.status === "paused" && p.pauseReason === "source_deleted")).toBe(true);
    expect(await env.repos.sources.get(TENANT, SLACK, "channels")).toMatchObject({ origin: "manual", revision: 1 });
    if (users) slack.actions.push(users);
    expect((await discover()).sources).toMatchObject({ added: 1 });
  });

  it("runs on POST /discovery, deduplicated while one is queued, and 404s for a tenant without a key", async () => {
    const first = await postDiscovery(configDeps(), TENANT);
    const second = await postDiscovery(configDeps(), TENANT);
    expect(first).toEqual({ status: "queued", deduplicated: false });
    expect(second).toEqual({ status: "queued", deduplicated: true });
    await expect(postDiscovery(configDeps(), "tenant-without-key")).rejects.toMatchObject({ status: 404 });
    await env.drain();
    expect((await getDiscovery({ repos: env.repos }, TENANT)).status).toBe("completed");
  });

  it("runs again by itself: the planner claims the tenant's due discovery row once and the worker runs it", async () => {
    const before = await getDiscovery({ repos: env.repos }, TENANT);
    expect(before.nextRunAt).not.toBeNull();
    const deps = configDeps();
    // Not due yet: nothing is planned.
    expect(await planDiscoveries(deps, env.clock.now())).toBe(0);
    env.clock.advance(DEFAULT_DISCOVERY_INTERVAL_SECONDS * 1000 + 1_000);
    env.queue.sends.length = 0;
    // Two planners at once: the row is claimed on its exact due key, so one run is queued.
    const [first, second] = await Promise.all([
      planDiscoveries(deps, env.clock.now()),
      planDiscoveries(deps, env.clock.now()),
    ]);
    expect(first + second).toBe(1);
    const messages = env.queue.sends.flatMap((s) => s.messages);
    expect(messages).toEqual([expect.objectContaining({ v: 1, kind: "discover", tenantId: TENANT })]);
    await env.drain();
    const after = await getDiscovery({ repos: env.repos }, TENANT);
    expect(after.status).toBe("completed");
    expect(Date.parse(after.lastRunAt ?? "")).toBeGreaterThan(Date.parse(before.lastRunAt ?? ""));
  });

  it("reports what a quota stops as QUOTA_EXCEEDED and adds the rest", async () => {
    const key = "wg_live_quota_tenant_0123456789";
    servers.gateway.addTenant({ tenantId: "quota-upstream", apiKey: key });
    const cipher = createFileKeyCipher(join(mkdtempSync(join(tmpdir(), "rds-quota-")), "credentials.key"));
    await env.repos.tenants.putCredentials("quota", {
      ciphertext: await cipher.encrypt("quota", key),
      version: "v1",
      keyHint: "h",
      now: env.clock.now(),
    });
    const gateway = createGatewayClient({
      baseUrl: servers.gateway.url,
      apiKey: createTenantKeyProvider({ tenants: env.repos.tenants, cipher }),
    });
    const deps = { repos: env.repos, gateway, clock: env.clock, log: silent };
    const report = await discoverTenant(
      { ...deps, quotas: { ...DEFAULT_QUOTAS, sourcesPerIntegration: 1 } },
      "quota",
      env.clock.now() + 60_000,
    );
    const slack = sampleUuid("quota-upstream", "slack");
    expect(report.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ integrationId: slack, code: "QUOTA_EXCEEDED" })]),
    );
    expect(await env.repos.sources.list("quota", slack)).toHaveLength(1);
    expect(report.sources.added).toBe(4);
  });

  it("retires an integration Waygate disables: its discovered sources go and its connections are revoked", async () => {
    const github = upstream.catalog.integrations.find((i) => i.slug === "github");
    if (!github) throw new Error("no github");
    github.status = "disabled";

    const report = await discover();

    expect(report.integrations).toBe(3);
    expect(await env.repos.sources.list(TENANT, GITHUB)).toEqual([]);
    const connections = await env.repos.connections.list(TENANT, GITHUB);
    expect(connections.every((c) => c.status === "revoked")).toBe(true);
  });
});
