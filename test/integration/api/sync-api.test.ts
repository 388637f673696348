import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler } from "../../../functions/api-sync/handler.js";
import { syncMessageSchema } from "../../../shared/domain/sync-message.js";
import { LEASE_MS, MANUAL_MIN_INTERVAL_MS, REQUEUE_WINDOW_MS } from "../../../shared/sync/durations.js";
import {
  CURSOR_SECRET,
  caller,
  completeSync,
  freshStack,
  type Servers,
  type Stack,
  seedIntegration,
  startServers,
} from "./fixture.js";

const A = "tenant-a";
const base = "/api/v1/integrations/slack/reference-data";
const syncPath = `${base}/sync`;
const statusPath = `${base}/sync/status`;

interface TriggerData {
  jobs: {
    jobId: string | null;
    connectionId: string;
    dataType: string;
    actionSlug: string;
    status: string;
    deduplicated: boolean;
    retryAfterSeconds?: number;
  }[];
}

interface StatusData {
  dataTypes: Record<string, unknown>[];
  recentJobs: { jobId: string; status: string; dataType: string; connectionId: string }[];
}

let servers: Servers;
beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});

async function seeded(): Promise<Stack> {
  const stack = await freshStack(servers);
  await seedIntegration(stack, {
    tenantId: A,
    integrationId: "slack",
    dataTypes: ["users", "channels"],
    connections: ["default", "conn-1"],
  });
  return stack;
}

describe("POST .../reference-data/sync", () => {
  it("creates a pending job per matching partition, claims it and enqueues its message", async () => {
    const stack = await seeded();

    const res = await stack.call<TriggerData>(handler, {
      method: "POST",
      path: syncPath,
      body: { connectionId: "conn-1" },
      caller: caller(A),
    });

    expect(res.status).toBe(202);
    const jobs = res.body.data?.jobs ?? [];
    expect(jobs.map((j) => `${j.connectionId}/${j.dataType}`).sort()).toEqual(["conn-1/channels", "conn-1/users"]);
    for (const job of jobs) {
      expect(job).toEqual(
        expect.objectContaining({ status: "pending", deduplicated: false, actionSlug: `${job.dataType}-list` }),
      );
      const stored = await stack.repos.jobs.get(A, "slack", job.jobId ?? "");
      expect(stored).toEqual(expect.objectContaining({ status: "pending", trigger: "manual" }));
      const partition = await stack.repos.partitions.get({
        tenantId: A,
        integrationId: "slack",
        connectionId: job.connectionId,
        dataType: job.dataType,
      });
      expect(partition).toEqual(
        expect.objectContaining({
          status: "queued",
          currentJobId: job.jobId,
          deadlineAt: new Date(stack.clock.now() + REQUEUE_WINDOW_MS).toISOString(),
        }),
      );
    }
    const messages = await stack.drain();
    expect(messages).toHaveLength(2);
    for (const m of messages)
      expect(syncMessageSchema.parse(m)).toEqual(expect.objectContaining({ trigger: "manual" }));
    expect(messages.map((m) => m.jobId).sort()).toEqual(jobs.map((j) => j.jobId).sort());
  });

  it("narrows by dataTypes and passes mode and force to the message", async () => {
    const stack = await seeded();

    const res = await stack.call<TriggerData>(handler, {
      method: "POST",
      path: syncPath,
      body: { dataTypes: ["users"], mode: "full", force: true },
      caller: caller(A),
    });

    expect(res.status).toBe(202);
    expect(res.body.data?.jobs.map((j) => `${j.connectionId}/${j.dataType}`).sort()).toEqual([
      "conn-1/users",
      "default/users",
    ]);
    const messages = await stack.drain();
    expect(messages.every((m) => m.mode === "full" && m.force === true)).toBe(true);
  });

  it("returns the in-flight job with deduplicated: true instead of creating another", async () => {
    const stack = await seeded();
    const first = await stack.call<TriggerData>(handler, {
      method: "POST",
      path: syncPath,
      body: { dataType: "users", connectionId: "default" },
      caller: caller(A),
    });
    await stack.drain();
    // Past the manual interval, but the first job is still queued: the same job comes back.
    stack.clock.t += MANUAL_MIN_INTERVAL_MS + 1_000;

    const second = await stack.call<TriggerData>(handler, {
      method: "POST",
      path: syncPath,
      body: { dataType: "users", connectionId: "default" },
      caller: caller(A),
    });

    expect(second.status).toBe(202);
    expect(second.body.data?.jobs).toEqual([
      expect.objectContaining({ jobId: first.body.data?.jobs[0]?.jobId, status: "pending", deduplicated: true }),
    ]);
    expect(await stack.drain()).toHaveLength(0);
  });

  it("answers 429 with Retry-After when every matched partition was triggered under a minute ago", async () => {
    const stack = await seeded();
    const ref = { tenantId: A, integrationId: "slack", connectionId: "default", dataType: "users" };
    await stack.call(handler, {
      method: "POST",
      path: syncPath,
      body: { dataType: "users", connectionId: "default" },
      caller: caller(A),
    });
    const jobId = (await stack.repos.partitions.get(ref))?.currentJobId ?? "";
    // The worker finishes the job quickly: the partition is idle again, but the minute has not passed.
    await stack.repos.partitions.acquireLease(ref, { jobId, owner: "w", now: stack.clock.now(), leaseMs: LEASE_MS });
    await stack.repos.partitions.recordSuccess(ref, {
      jobId,
      owner: "w",
      now: stack.clock.now(),
      nextSyncAt: stack.clock.now() + 3_600_000,
      version: 1,
      manifestChunks: 0,
      objectChunks: 0,
      itemCount: 0,
      startedAt: stack.clock.now(),
      full: true,
    });
    stack.clock.t += 20_000;

    const res = await stack.call<TriggerData>(handler, {
      method: "POST",
      path: syncPath,
      body: { dataType: "users", connectionId: "default" },
      caller: caller(A),
    });

    expect(res.status).toBe(429);
    expect(res.body.error?.code).toBe("RATE_LIMITED");
    expect(res.headers["Retry-After"]).toBe("40");
    expect(res.body.error?.details?.jobs).toEqual([
      expect.objectContaining({ status: "throttled", retryAfterSeconds: 40, deduplicated: false }),
    ]);

    stack.clock.t += 41_000;
    const later = await stack.call<TriggerData>(handler, {
      method: "POST",
      path: syncPath,
      body: { dataType: "users", connectionId: "default" },
      caller: caller(A),
    });
    expect(later.status).toBe(202);
    expect(later.body.data?.jobs[0]).toEqual(expect.objectContaining({ status: "pending", deduplicated: false }));
  });

  it("answers 202 when some partitions are throttled and others get jobs, listing both", async () => {
    const stack = await seeded();
    await stack.call(handler, {
      method: "POST",
      path: syncPath,
      body: { dataType: "users", connectionId: "default" },
      caller: caller(A),
    });
    const ref = { tenantId: A, integrationId: "slack", connectionId: "default", dataType: "users" };
    const jobId = (await stack.repos.partitions.get(ref))?.currentJobId ?? "";
    await stack.repos.partitions.acquireLease(ref, { jobId, owner: "w", now: stack.clock.now(), leaseMs: LEASE_MS });
    await stack.repos.partitions.recordFailure(ref, {
      jobId,
      owner: "w",
      now: stack.clock.now(),
      error: { code: "TIMEOUT", message: "upstream timeout" },
      nextSyncAt: stack.clock.now() + 60_000,
    });

    const res = await stack.call<TriggerData>(handler, {
      method: "POST",
      path: syncPath,
      body: { connectionId: "default" },
      caller: caller(A),
    });

    expect(res.status).toBe(202);
    const byType = Object.fromEntries((res.body.data?.jobs ?? []).map((j) => [j.dataType, j.status]));
    expect(byType).toEqual({ users: "throttled", channels: "pending" });
  });

  it("takes over a queued partition whose requeue deadline passed, fails its old job and asks for reconciliation", async () => {
    const stack = await seeded();
    const ref = { tenantId: A, integrationId: "slack", connectionId: "default", dataType: "users" };
    await stack.call(handler, {
      method: "POST",
      path: syncPath,
      body: { dataType: "users", connectionId: "default" },
      caller: caller(A),
    });
    const oldJob = (await stack.repos.partitions.get(ref))?.currentJobId ?? "";
    const [firstMessage] = await stack.drain();
    expect(firstMessage?.reconcile).toBeUndefined();
    stack.clock.t += REQUEUE_WINDOW_MS + 1_000;

    const res = await stack.call<TriggerData>(handler, {
      method: "POST",
      path: syncPath,
      body: { dataType: "users", connectionId: "default" },
      caller: caller(A),
    });

    const newJob = res.body.data?.jobs[0]?.jobId;
    expect(res.status).toBe(202);
    expect(newJob).not.toBe(oldJob);
    expect((await stack.repos.partitions.get(ref))?.currentJobId).toBe(newJob);
    expect((await stack.repos.jobs.get(A, "slack", oldJob))?.status).toBe("failed");
    // The dead job may have left uncommitted rows: the worker is told to read them back before diffing.
    expect(await stack.drain()).toEqual([expect.objectContaining({ jobId: newJob, reconcile: true })]);
  });

  it("answers 409 naming the pause reason when every matching partition is paused, and enqueues nothing", async () => {
    const stack = await seeded();
    const ref = { tenantId: A, integrationId: "slack", connectionId: "default", dataType: "users" };
    await stack.repos.partitions.pause(ref, "credentials", stack.clock.now());

    const res = await stack.call<TriggerData>(handler, {
      method: "POST",
      path: syncPath,
      body: { dataType: "users", connectionId: "default" },
      caller: caller(A),
    });

    expect(res.status).toBe(409);
    expect(JSON.stringify(res.body)).toContain('"pauseReason":"credentials"');
    expect((await stack.repos.partitions.get(ref))?.status).toBe("paused");
    expect(await stack.drain()).toHaveLength(0);
  });

  it("creates a partition the fan-out has not created yet, then triggers it", async () => {
    const stack = await seeded();
    await stack.repos.sources.put(
      A,
      "slack",
      "repos",
      (await import("./fixture.js")).listSource("repos"),
      stack.clock.now(),
    );

    const res = await stack.call<TriggerData>(handler, {
      method: "POST",
      path: syncPath,
      body: { dataType: "repos", connectionId: "default" },
      caller: caller(A),
    });

    expect(res.status).toBe(202);
    expect(res.body.data?.jobs).toEqual([expect.objectContaining({ dataType: "repos", status: "pending" })]);
  });

  it.each([
    [{ dataType: "nope" }, "NOT_FOUND"],
    [{ connectionId: "ghost" }, "NOT_FOUND"],
  ])("answers 404 when nothing matches %j", async (body, code) => {
    const stack = await seeded();

    const res = await stack.call(handler, { method: "POST", path: syncPath, body, caller: caller(A) });

    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe(code);
    expect(await stack.drain()).toHaveLength(0);
  });

  it("answers 404 INTEGRATION_NOT_FOUND for an integration with no sources or connections", async () => {
    const stack = await seeded();

    const res = await stack.call(handler, {
      method: "POST",
      path: "/api/v1/integrations/github/reference-data/sync",
      body: {},
      caller: caller(A),
    });

    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe("INTEGRATION_NOT_FOUND");
    expect(res.body.error?.suggestedResolution?.action).toBe("CHECK_INTEGRATION_CONFIG");
  });

  it("does not trigger a revoked connection", async () => {
    const stack = await seeded();
    await stack.repos.connections.revoke(A, "slack", "conn-1", stack.clock.now());

    const res = await stack.call(handler, {
      method: "POST",
      path: syncPath,
      body: { connectionId: "conn-1" },
      caller: caller(A),
    });

    expect(res.status).toBe(404);
  });

  it("needs the sync scope", async () => {
    const stack = await seeded();

    const res = await stack.call(handler, { method: "POST", path: syncPath, body: {}, caller: caller(A, ["read"]) });

    expect(res.status).toBe(403);
    expect(await stack.drain()).toHaveLength(0);
  });

  it("answers 500 without claiming anything when no queue is configured", async () => {
    const stack = await freshStack(servers, { queue: false });
    await seedIntegration(stack, {
      tenantId: A,
      integrationId: "slack",
      dataTypes: ["users"],
      connections: ["default"],
    });

    const res = await stack.call(handler, { method: "POST", path: syncPath, body: {}, caller: caller(A) });

    expect(res.status).toBe(500);
    const partition = await stack.repos.partitions.get({
      tenantId: A,
      integrationId: "slack",
      connectionId: "default",
      dataType: "users",
    });
    expect(partition?.status).toBe("idle");
  });
});

describe("GET .../reference-data/sync/status", () => {
  it("reports partitions with freshness, counts and last job, and jobs newest first", async () => {
    const stack = await seeded();
    const users = { tenantId: A, integrationId: "slack", connectionId: "default", dataType: "users" };
    await completeSync(stack, users, { jobId: "01JOB0000000000000000000A1", itemCount: 42 });
    stack.clock.t += 1_000;
    await stack.call(handler, {
      method: "POST",
      path: syncPath,
      body: { dataType: "channels", connectionId: "conn-1" },
      caller: caller(A),
    });

    const res = await stack.call<StatusData>(handler, { method: "GET", path: statusPath, caller: caller(A, ["read"]) });

    expect(res.status).toBe(200);
    const rows = res.body.data?.dataTypes ?? [];
    expect(rows).toHaveLength(4);
    expect(rows.find((r) => r.dataType === "users" && r.connectionId === "default")).toEqual(
      expect.objectContaining({
        status: "idle",
        freshness: "fresh",
        itemCount: 42,
        lastSyncedAt: new Date(stack.clock.now() - 1_000).toISOString(),
        lastJobStatus: "completed",
      }),
    );
    expect(rows.find((r) => r.dataType === "channels" && r.connectionId === "conn-1")).toEqual(
      expect.objectContaining({ status: "queued", freshness: "never", lastSyncedAt: null }),
    );
    const jobs = res.body.data?.recentJobs ?? [];
    expect(jobs.map((j) => j.status)).toEqual(["pending", "completed"]);
    expect(res.body.pagination).toEqual({ cursor: null, hasMore: false });
  });

  it("marks a partition stale after its TTL and reports a failed partition's last error", async () => {
    const stack = await seeded();
    const users = { tenantId: A, integrationId: "slack", connectionId: "default", dataType: "users" };
    const channels = { ...users, dataType: "channels" };
    await completeSync(stack, users, { jobId: "01JOB0000000000000000000B1", itemCount: 3 });
    await completeSync(stack, channels, { jobId: "01JOB0000000000000000000B2", itemCount: 5 });
    stack.clock.t += 60_000;
    const now = stack.clock.now();
    await stack.repos.partitions.claim(channels, {
      jobId: "01JOB0000000000000000000B3",
      now,
      requeueDeadline: now + 1,
    });
    await stack.repos.partitions.acquireLease(channels, {
      jobId: "01JOB0000000000000000000B3",
      owner: "w",
      now,
      leaseMs: 1,
    });
    await stack.repos.partitions.recordFailure(channels, {
      jobId: "01JOB0000000000000000000B3",
      owner: "w",
      now,
      error: { code: "EXTERNAL_API_ERROR", message: "upstream said 502" },
      nextSyncAt: now + 60_000,
    });
    stack.clock.t += 3_600_000;

    const res = await stack.call<StatusData>(handler, {
      method: "GET",
      path: statusPath,
      query: { connectionId: "default" },
      caller: caller(A),
    });

    expect(res.body.data?.dataTypes).toEqual([
      expect.objectContaining({
        dataType: "channels",
        status: "failed",
        freshness: "stale",
        itemCount: 5,
        lastJobStatus: "failed",
        lastError: { code: "EXTERNAL_API_ERROR", message: "upstream said 502" },
      }),
      expect.objectContaining({ dataType: "users", status: "idle", freshness: "stale", itemCount: 3 }),
    ]);
  });

  it("pages jobs with a signed cursor until the end, filtered by data type", async () => {
    const stack = await seeded();
    const users = { tenantId: A, integrationId: "slack", connectionId: "default", dataType: "users" };
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const jobId = `01JOBPAGE00000000000000${String(i).padStart(3, "0")}`;
      ids.push(jobId);
      await completeSync(stack, users, { jobId, version: i + 1 });
      stack.clock.t += 1_000;
    }
    await completeSync(stack, { ...users, dataType: "channels" }, { jobId: "01JOBPAGE0000000000000CH01" });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const query: Record<string, string> = { dataType: "users", limit: "2" };
      if (cursor) query.cursor = cursor;
      const res = await stack.call<StatusData>(handler, { method: "GET", path: statusPath, query, caller: caller(A) });
      expect(res.status).toBe(200);
      seen.push(...(res.body.data?.recentJobs ?? []).map((j) => j.jobId));
      cursor = res.body.pagination?.cursor ?? undefined;
      pages++;
    } while (cursor && pages < 10);

    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);
  });

  it("filters jobs by status", async () => {
    const stack = await seeded();
    await completeSync(
      stack,
      { tenantId: A, integrationId: "slack", connectionId: "default", dataType: "users" },
      {
        jobId: "01JOBSTATUS000000000000001",
      },
    );
    await stack.call(handler, { method: "POST", path: syncPath, body: { dataType: "channels" }, caller: caller(A) });

    const res = await stack.call<StatusData>(handler, {
      method: "GET",
      path: statusPath,
      query: { status: "completed" },
      caller: caller(A),
    });

    expect(res.body.data?.recentJobs.map((j) => j.jobId)).toEqual(["01JOBSTATUS000000000000001"]);
  });

  describe("cursors", () => {
    async function firstCursor(stack: Stack, query: Record<string, string> = {}): Promise<string> {
      const users = { tenantId: A, integrationId: "slack", connectionId: "default", dataType: "users" };
      for (let i = 0; i < 3; i++) {
        await completeSync(stack, users, { jobId: `01JOBCURSOR0000000000000${i}0`, version: i + 1 });
      }
      const res = await stack.call<StatusData>(handler, {
        method: "GET",
        path: statusPath,
        query: { limit: "1", ...query },
        caller: caller(A),
      });
      const cursor = res.body.pagination?.cursor;
      if (!cursor) throw new Error("expected a cursor");
      return cursor;
    }

    it("rejects a tampered cursor with 400 INVALID_REQUEST", async () => {
      const stack = await seeded();
      const cursor = await firstCursor(stack);
      const [payload = "", mac = ""] = cursor.split(".");
      // The payload is encrypted: flip one byte of it and keep the old signature.
      const bytes = Buffer.from(payload, "base64url");
      bytes[20] = (bytes[20] ?? 0) ^ 0xff;
      const tampered = `${bytes.toString("base64url")}.${mac}`;

      const res = await stack.call(handler, {
        method: "GET",
        path: statusPath,
        query: { limit: "1", cursor: tampered },
        caller: caller(A),
      });

      expect(res.status).toBe(400);
      expect(res.body.error?.code).toBe("INVALID_REQUEST");
    });

    it("rejects another tenant's cursor with 400", async () => {
      const stack = await seeded();
      await seedIntegration(stack, {
        tenantId: "tenant-b",
        integrationId: "slack",
        dataTypes: ["users"],
        connections: ["default"],
      });
      const cursor = await firstCursor(stack);

      const res = await stack.call(handler, {
        method: "GET",
        path: statusPath,
        query: { limit: "1", cursor },
        caller: caller("tenant-b"),
      });

      expect(res.status).toBe(400);
      expect(res.body.error?.message).toMatch(/another tenant/);
    });

    it("rejects a cursor from another query (other filters) with 400", async () => {
      const stack = await seeded();
      const cursor = await firstCursor(stack, { dataType: "users" });

      const res = await stack.call(handler, {
        method: "GET",
        path: statusPath,
        query: { limit: "1", cursor, dataType: "channels" },
        caller: caller(A),
      });

      expect(res.status).toBe(400);
      expect(res.body.error?.message).toMatch(/another query/);
    });

    it("rejects a well-signed cursor whose key points outside the tenant (signed with a leaked secret) with 400", async () => {
      const stack = await seeded();
      const { encodeCursor, queryFingerprint } = await import("../../../shared/http/cursor.js");
      const fingerprint = queryFingerprint({ op: "getSyncStatus", integrationId: "slack" });
      const forged = encodeCursor(
        { PK: "T#tenant-b#I#slack", SK: "JOB#Z" },
        { tenantId: A, fingerprint },
        { current: CURSOR_SECRET },
      );

      const res = await stack.call(handler, {
        method: "GET",
        path: statusPath,
        query: { cursor: forged },
        caller: caller(A),
      });

      expect(res.status).toBe(400);
    });
  });

  it("answers 404 INTEGRATION_NOT_FOUND for an integration the tenant does not have", async () => {
    const stack = await seeded();

    const res = await stack.call(handler, {
      method: "GET",
      path: "/api/v1/integrations/github/reference-data/sync/status",
      caller: caller(A),
    });

    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe("INTEGRATION_NOT_FOUND");
  });

  it.each([
    [{ limit: "0" }, "limit"],
    [{ limit: "abc" }, "limit"],
    [{ status: "done" }, "status"],
    [{ dataType: "a#b" }, "dataType"],
  ])("answers 400 naming the field for query %j", async (query, field) => {
    const stack = await seeded();

    const res = await stack.call(handler, { method: "GET", path: statusPath, query, caller: caller(A) });

    expect(res.status).toBe(400);
    expect(res.body.error?.details?.issues).toEqual([expect.objectContaining({ field })]);
  });
});
