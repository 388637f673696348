/**
 * Issue 11, tenant quotas and the per-key rate limit through the api-config and api-query handlers on dynalite:
 * exceeding a quota answers 429 QUOTA_EXCEEDED naming it; other tenants are untouched; removing something frees the
 * slot; a queued sync is never failed by a quota; a key beyond its rate gets 429 with Retry-After.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handler as configHandler } from "../../../functions/api-config/handler.js";
import { handler as queryHandler } from "../../../functions/api-query/handler.js";
import { resetKeyRateLimiter } from "../../../shared/http/rate-limit.js";
import { caller, freshStack, listSource, type Servers, type Stack, startServers } from "./fixture.js";

const LIMITS = {
  QUOTA_INTEGRATIONS: "2",
  QUOTA_SOURCES_PER_INTEGRATION: "3",
  QUOTA_CONNECTIONS_PER_INTEGRATION: "4",
  QUOTA_PARTITIONS: "10",
};

let servers: Servers;
let stack: Stack;
let counter = 0;
let tenant: string;

beforeAll(async () => {
  Object.assign(process.env, LIMITS);
  servers = await startServers();
  stack = await freshStack(servers);
});
afterAll(async () => {
  for (const name of Object.keys(LIMITS)) delete process.env[name];
  await servers.stop();
});
beforeEach(() => {
  tenant = `tenant-quota-${++counter}`;
});

const admin = () => caller(tenant, ["admin"]);
const putSource = (integrationId: string, dataType: string, who = admin()) =>
  stack.call(configHandler, {
    method: "PUT",
    path: `/api/v1/integrations/${integrationId}/reference-data/sources/${dataType}`,
    body: JSON.stringify(listSource(dataType)),
    caller: who,
  });
const enroll = (integrationId: string, connectionId: string) =>
  stack.call(configHandler, {
    method: "PUT",
    path: `/api/v1/integrations/${integrationId}/connections/${connectionId}`,
    caller: admin(),
  });

function expectQuota(res: Awaited<ReturnType<typeof putSource>>, quota: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(429);
  expect(res.body.error?.code).toBe("QUOTA_EXCEEDED");
  expect(res.body.error?.details).toMatchObject({ quota });
  expect(res.body.error?.message).toContain(quota);
}

describe("quotas", () => {
  it("limits sources per integration, and lets an existing source be replaced", async () => {
    for (const dataType of ["a", "b", "c"]) expect((await putSource("slack", dataType)).status).toBeLessThan(300);
    expectQuota(await putSource("slack", "d"), "sourcesPerIntegration");
    expect((await putSource("slack", "c")).status).toBe(200);
    // Other tenants are untouched.
    expect((await putSource("slack", "d", caller(`${tenant}-other`, ["admin"]))).status).toBe(201);
  });

  it("limits integrations per tenant, and frees the slot when an integration's last source goes", async () => {
    expect((await putSource("slack", "users")).status).toBe(201);
    expect((await putSource("github", "repos")).status).toBe(201);
    expectQuota(await putSource("hubspot", "crm"), "integrations");
    const removed = await stack.call(configHandler, {
      method: "DELETE",
      path: "/api/v1/integrations/github/reference-data/sources/repos",
      caller: admin(),
    });
    expect(removed.status).toBe(200);
    expect((await putSource("hubspot", "crm")).status).toBe(201);
  });

  it("limits connections per integration", async () => {
    for (const id of ["c1", "c2", "c3", "c4"]) expect((await enroll("slack", id)).status).toBe(201);
    expectQuota(await enroll("slack", "c5"), "connectionsPerIntegration");
    // Re-enrolling one it has is not an addition.
    expect((await enroll("slack", "c4")).status).toBe(200);
  });

  it("limits partitions (syncable sources × active connections over every integration)", async () => {
    for (const id of ["c1", "c2", "c3", "c4"]) await enroll("slack", id);
    expect((await putSource("slack", "users")).status).toBe(201);
    expect((await putSource("slack", "channels")).status).toBe(201);
    expectQuota(await putSource("slack", "groups"), "partitions");
    await enroll("github", "default");
    expect((await putSource("github", "repos")).status).toBe(201);
    expect((await putSource("github", "teams")).status).toBe(201);
    expectQuota(await putSource("github", "members"), "partitions");
  });

  it("never fails a sync already queued", async () => {
    for (const dataType of ["a", "b", "c"]) await putSource("slack", dataType);
    await enroll("slack", "default");
    const trigger = await stack.call((await import("../../../functions/api-sync/handler.js")).handler, {
      method: "POST",
      path: "/api/v1/integrations/slack/reference-data/sync",
      body: "{}",
      caller: caller(tenant, ["sync"]),
    });
    expect(trigger.status).toBe(202);
    expectQuota(await putSource("slack", "d"), "sourcesPerIntegration");
    const jobs = (trigger.body.data as { jobs: { jobId: string }[] }).jobs;
    expect(jobs).toHaveLength(3);
    for (const job of jobs) {
      const stored = await stack.repos.jobs.get(tenant, "slack", job.jobId);
      expect(stored?.status).toBe("pending");
    }
  });
});

describe("per-key rate limit", () => {
  it("answers 429 RATE_LIMITED with Retry-After once a key passes its burst, and other keys go on", async () => {
    // A slow rate so the test does not race the refill: burst 5, one token a second.
    process.env.API_KEY_RATE_PER_SECOND = "1";
    process.env.API_KEY_BURST = "5";
    stack = await freshStack(servers);
    resetKeyRateLimiter();
    const read = (keyId: string) =>
      stack.call(queryHandler, {
        method: "GET",
        path: "/api/v1/integrations/slack/reference-data",
        caller: { tenantId: tenant, keyId, scopes: ["read"] },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await read("key-a")).status);
    expect(statuses.every((status) => status !== 429)).toBe(true);
    const limited = await read("key-a");
    expect(limited.status).toBe(429);
    expect(limited.body.error?.code).toBe("RATE_LIMITED");
    expect(Number(limited.headers?.["Retry-After"])).toBeGreaterThanOrEqual(1);
    expect((await read("key-b")).status).not.toBe(429);
    delete process.env.API_KEY_RATE_PER_SECOND;
    delete process.env.API_KEY_BURST;
  });
});
