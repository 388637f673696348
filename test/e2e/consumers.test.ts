/**
 * Issue 13 on the local stack, over HTTP: an event per committed job in `{DATA_DIR}/events.jsonl` with the job's
 * counts; a signed webhook received by a loopback receiver while another tenant's failing receiver is retried and
 * nobody's syncs wait for it; the change feed; 304s; a paused connection; tenant erasure leaving no row behind.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAMPLE_SOURCES } from "../../infra/local/sample-gateway/index.js";
import { type LocalStack, startLocalStack } from "../../infra/local/stack.js";
import type { ServiceEvent } from "../../shared/events/events.js";
import { createLogger } from "../../shared/log.js";
import { createDocumentClient } from "../../shared/storage/client.js";
import { eventually } from "./support/eventually.js";
import {
  type ApiCall,
  localApi,
  type StatusData,
  storeSampleGatewayKey,
  type TriggerData,
} from "./support/local-api.js";

const SLACK = "/integrations/slack/reference-data";
const slackSources = SAMPLE_SOURCES.filter((s) => s.integrationId === "slack");
const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

async function receiver(status: number): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server };
}

describe("events, webhooks, change feed, conditional reads, pause and erasure on the local stack", () => {
  let dataDir: string;
  let stack: LocalStack;
  const tenants = { good: "acme", failing: "globex" } as const;
  const apis: Record<string, ApiCall> = {};
  const keys: Record<string, string> = {};
  let good: Awaited<ReturnType<typeof receiver>>;
  let failing: Awaited<ReturnType<typeof receiver>>;
  let secret = "";
  const jobIds: Record<string, string[]> = {};

  const raw = (
    tenant: string,
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string> } = {},
  ) =>
    fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${keys[tenant]}`,
        ...(init.body === undefined ? {} : { "Content-Type": "application/json" }),
        ...init.headers,
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });

  const syncAll = async (tenant: string) => {
    const api = apis[tenant] as ApiCall;
    const trigger = await api<TriggerData>("POST", `${SLACK}/sync`, { body: {} });
    expect(trigger.status, trigger.text).toBe(202);
    const ids = (trigger.body.data?.jobs ?? []).map((job) => job.jobId as string);
    await eventually(
      async () => {
        const { body } = await api<StatusData>("GET", `${SLACK}/sync/status?limit=50`);
        const jobs = body.data?.recentJobs.filter((job) => ids.includes(job.jobId)) ?? [];
        return jobs.length === ids.length && jobs.every((job) => job.status === "completed") ? jobs : undefined;
      },
      { attempts: 150, intervalMs: 100, what: `${tenant}'s jobs completed` },
    );
    jobIds[tenant] = [...(jobIds[tenant] ?? []), ...ids];
    return ids;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "rds-e2e-consumers-"));
    [good, failing] = await Promise.all([receiver(204), receiver(500)]);
    stack = await startLocalStack({
      port: 0,
      dynamoPort: 0,
      sqsPort: 0,
      sampleGatewayPort: 0,
      dataDir,
      seedDemo: false,
      scheduleSeconds: 3600,
      workerTimeoutSeconds: 60,
      shutdownGraceMs: 10_000,
      webhookBackoffSeconds: 1,
      logLevel: "error",
      log: createLogger({}, "silent"),
      clock,
    });
    for (const tenant of Object.values(tenants)) {
      const created = await stack.repos.apiKeys.create(tenant, {
        name: "e2e",
        scopes: ["read", "sync", "admin"],
        now: clock.now(),
      });
      keys[tenant] = created.key;
      apis[tenant] = localApi(() => stack.apiUrl, created.key);
      // Each tenant calls the gateway with its own Waygate key (sync-lifecycle.test.ts drives saving it over HTTP).
      await storeSampleGatewayKey(stack, tenant);
      for (const source of slackSources) {
        const saved = await (apis[tenant] as ApiCall)("PUT", `${SLACK}/sources/${source.dataType}`, {
          body: {
            integrationSlug: source.integrationSlug,
            actionSlug: source.actionSlug,
            referenceData: source.referenceData,
          },
        });
        expect(saved.status, saved.text).toBe(201);
      }
      expect((await (apis[tenant] as ApiCall)("PUT", "/integrations/slack/connections/default")).status).toBe(201);
    }
  });

  afterAll(async () => {
    await stack?.stop();
    good?.server.close();
    failing?.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("signs webhooks to a loopback receiver, retries a failing one, and neither delays a sync", async () => {
    const put = await raw(tenants.good, "PUT", "/webhooks", { body: { url: good.url } });
    expect(put.status).toBe(200);
    secret = ((await put.json()) as { data: { secret: string } }).data.secret;
    expect(secret).toMatch(/^whsec_/);
    const shown = await raw(tenants.good, "GET", "/webhooks");
    expect(await shown.text()).not.toContain(secret);
    expect((await raw(tenants.failing, "PUT", "/webhooks", { body: { url: failing.url } })).status).toBe(200);

    await Promise.all([syncAll(tenants.failing), syncAll(tenants.good)]);

    const delivered = await eventually(async () => (good.received.length >= 2 ? good.received : undefined), {
      what: "two webhooks delivered",
    });
    for (const { headers, body } of delivered) {
      const expected = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
      expect(headers["x-signature"]).toBe(expected);
      const event = JSON.parse(body) as ServiceEvent;
      expect(event.detail.tenantId).toBe(tenants.good);
      expect(jobIds[tenants.good]).toContain(event.detail.jobId);
    }
    // The failing endpoint is tried again (backoff), and its tenant's syncs completed all the same.
    await eventually(async () => (failing.received.length >= 3 ? true : undefined), {
      attempts: 100,
      what: "the failing webhook retried",
    });
    expect(failing.received.every((r) => JSON.parse(r.body).detail.tenantId === tenants.failing)).toBe(true);
  });

  it("appends one Sync Completed event per committed job to events.jsonl, with the job's counts", async () => {
    const lines = readFileSync(join(dataDir, "events.jsonl"), "utf8").trim().split("\n");
    const events = lines.map((line) => JSON.parse(line) as ServiceEvent);
    const completed = events.filter((e) => e["detail-type"] === "Sync Completed" && e.detail.tenantId === tenants.good);
    expect(completed.map((e) => e.detail.jobId).sort()).toEqual([...(jobIds[tenants.good] ?? [])].sort());
    const { body } = await (apis[tenants.good] as ApiCall)<StatusData>("GET", `${SLACK}/sync/status?limit=50`);
    for (const job of body.data?.recentJobs ?? []) {
      const event = completed.find((e) => e.detail.jobId === job.jobId);
      expect(event?.detail.counts).toMatchObject({
        found: job.itemsFound,
        created: job.itemsCreated,
        updated: job.itemsUpdated,
      });
    }
  });

  it("serves the change feed and answers 304 to a matching If-None-Match", async () => {
    const feed = await raw(tenants.good, "GET", `${SLACK}/changes?dataType=users&limit=500`);
    expect(feed.status).toBe(200);
    const etag = feed.headers.get("etag");
    const page = (await feed.json()) as { data: { changes: { change: string }[] }; pagination: { cursor: string } };
    expect(page.data.changes.length).toBe(stack.sampleGateway?.data.slackUsers.length);
    expect(page.data.changes.every((c) => c.change === "created")).toBe(true);
    const again = await raw(tenants.good, "GET", `${SLACK}/changes?dataType=users&limit=500`, {
      headers: { "If-None-Match": etag as string },
    });
    expect(again.status).toBe(304);
    const next = await raw(
      tenants.good,
      "GET",
      `${SLACK}/changes?dataType=users&since=${encodeURIComponent(page.pagination.cursor)}`,
    );
    expect(((await next.json()) as { data: { changes: unknown[] } }).data.changes).toEqual([]);
  });

  it("pauses a connection (a trigger answers 409), resumes it", async () => {
    const paused = await raw(tenants.good, "PATCH", "/integrations/slack/connections/default", {
      body: { paused: true },
    });
    expect(paused.status).toBe(200);
    clock.offsetMs += 61_000; // past the manual-trigger throttle
    const trigger = await raw(tenants.good, "POST", `${SLACK}/sync`, { body: {} });
    expect(trigger.status).toBe(409);
    const resumed = await raw(tenants.good, "PATCH", "/integrations/slack/connections/default", {
      body: { paused: false, ttlSeconds: 600 },
    });
    expect(resumed.status).toBe(200);
    expect(((await resumed.json()) as { data: unknown }).data).toMatchObject({
      connection: { paused: false, ttlSeconds: 600 },
    });
  });

  it("erases a tenant: a full scan of the table finds none of its rows and its key answers 401", async () => {
    const erase = await raw(tenants.failing, "DELETE", "/tenant", { body: { confirm: tenants.failing } });
    expect(erase.status).toBe(202);
    // Done when the progress row is gone with the rest (the local authorizer, like API Gateway's, caches a key 60 s).
    await eventually(
      async () => {
        const status = (await raw(tenants.failing, "GET", "/tenant")).status;
        return status === 404 || status === 401 ? true : undefined;
      },
      { attempts: 150, what: "the erasure finished" },
    );
    expect(await stack.repos.apiKeys.resolve(keys[tenants.failing] as string)).toBeUndefined();
    // What the API answers once the authorizer's 60 s cache has let go of the key: the authorizer refuses it (401).
    const { authorize } = await import("../../shared/http/authorizer.js");
    expect(await authorize({ Authorization: `Bearer ${keys[tenants.failing]}` }, stack.repos.apiKeys)).toBeUndefined();
    expect(await authorize({ Authorization: `Bearer ${keys[tenants.good]}` }, stack.repos.apiKeys)).toMatchObject({
      tenantId: tenants.good,
    });
    const doc = createDocumentClient({ endpoint: stack.endpoints.dynamodb });
    try {
      const rows: Record<string, unknown>[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(new ScanCommand({ TableName: "reference-data", ExclusiveStartKey: startKey }));
        rows.push(...(page.Items ?? []));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      const theirs = rows.filter((row) => JSON.stringify(row).includes(tenants.failing));
      expect(theirs).toEqual([]);
      expect(rows.some((row) => String(row.PK).startsWith(`T#${tenants.good}#`))).toBe(true);
    } finally {
      doc.destroy();
    }
  });
});
