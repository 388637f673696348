/**
 * Conditional reads (ETag / 304 after reading only partition rows) and PATCH connection {paused, ttlSeconds}: through
 * the API handlers over dynalite and fauxqs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as configHandler } from "../../../functions/api-config/handler.js";
import { handler as queryHandler } from "../../../functions/api-query/handler.js";
import { handler as syncHandler } from "../../../functions/api-sync/handler.js";
import { createLogger } from "../../../shared/log.js";
import { getRuntime } from "../../../shared/runtime.js";
import { runPlanner } from "../../../shared/sync/plan.js";
import { countRequests } from "../storage/fixtures.js";
import {
  caller,
  completeSync,
  freshStack,
  type Servers,
  type Stack,
  seedIntegration,
  startServers,
} from "./fixture.js";

const A = "tenant-a";
const base = "/api/v1/integrations/slack";
let servers: Servers;
beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});

async function seeded(): Promise<Stack> {
  const stack = await freshStack(servers);
  const refs = await seedIntegration(stack, {
    tenantId: A,
    integrationId: "slack",
    dataTypes: ["users", "channels"],
    connections: ["default", "conn-1"],
  });
  for (const [n, ref] of refs.entries()) await completeSync(stack, ref, { jobId: `01JOB0000000000000000000${n}` });
  return stack;
}

describe("conditional reads", () => {
  const reads = [
    `${base}/reference-data?dataType=users`,
    `${base}/reference-data/users`,
    `${base}/reference-data/users/lookup?query=sarah`,
    `${base}/reference-data/context`,
    `${base}/reference-data/changes?dataType=users`,
  ];

  it.each(reads)(
    "answers %s with an ETag, then 304 on If-None-Match after reading only partition rows",
    async (path) => {
      const stack = await seeded();
      const first = await stack.call(queryHandler, { method: "GET", path, caller: caller(A) });
      expect(first.status).toBe(200);
      const etag = first.headers.ETag;
      expect(etag).toMatch(/^W\/".+"$/);

      const counter = countRequests({ doc: getRuntime().doc } as Parameters<typeof countRequests>[0]);
      try {
        const again = await stack.call(queryHandler, {
          method: "GET",
          path,
          caller: caller(A),
          headers: { "If-None-Match": etag as string },
        });
        expect(again.status).toBe(304);
        expect(again.body.data).toBeUndefined();
        expect(Object.fromEntries(counter.counts)).toEqual({ QueryCommand: 1 });
      } finally {
        counter.stop();
      }
    },
  );

  it("changes the ETag when a partition commits a new version, and for another query", async () => {
    const stack = await seeded();
    const path = `${base}/reference-data/users`;
    const before = (await stack.call(queryHandler, { method: "GET", path, caller: caller(A) })).headers.ETag;
    const other = (await stack.call(queryHandler, { method: "GET", path: `${path}?limit=5`, caller: caller(A) }))
      .headers.ETag;
    expect(other).not.toBe(before);
    stack.clock.t += 60_000;
    await completeSync(
      stack,
      { tenantId: A, integrationId: "slack", connectionId: "default", dataType: "users" },
      {
        jobId: "01JOB00000000000000000NEW",
        version: 2,
      },
    );
    const after = await stack.call(queryHandler, {
      method: "GET",
      path,
      caller: caller(A),
      headers: { "If-None-Match": before as string },
    });
    expect(after.status).toBe(200);
    expect(after.headers.ETag).not.toBe(before);
  });

  it("makes sync status conditional too", async () => {
    const stack = await seeded();
    const path = `${base}/reference-data/sync/status`;
    const first = await stack.call(syncHandler, { method: "GET", path, caller: caller(A) });
    const again = await stack.call(syncHandler, {
      method: "GET",
      path,
      caller: caller(A),
      headers: { "if-none-match": first.headers.ETag as string },
    });
    expect(again.status).toBe(304);
  });
});

describe("PATCH /connections/{connectionId}", () => {
  const patch = (stack: Stack, body: unknown, connectionId = "conn-1") =>
    stack.call(configHandler, {
      method: "PATCH",
      path: `${base}/connections/${connectionId}`,
      body,
      caller: caller(A),
    });
  const plan = async (stack: Stack) => {
    const now = stack.clock.now();
    const { repos, queue } = getRuntime();
    if (!queue) throw new Error("no queue");
    return runPlanner(
      { repos, queue, clock: stack.clock, log: createLogger({}, "silent") },
      { now, deadline: now + 60_000 },
    );
  };

  it("pauses a connection: the planner skips it, a trigger answers 409, status shows it; resume makes it due", async () => {
    const stack = await seeded();
    const paused = await patch(stack, { paused: true });
    expect(paused.status).toBe(200);
    expect(paused.body.data).toMatchObject({ connection: { paused: true }, partitions: { paused: 2 } });

    stack.clock.t += 2 * 3_600_000; // every partition is due again
    const planned = await plan(stack);
    const messages = await stack.drain();
    expect(planned.claimed).toBe(2);
    expect(messages.every((m) => m.connectionId === "default")).toBe(true);

    const trigger = await stack.call(syncHandler, {
      method: "POST",
      path: `${base}/reference-data/sync`,
      body: { connectionId: "conn-1" },
      caller: caller(A),
    });
    expect(trigger.status).toBe(409);
    const status = await stack.call(syncHandler, {
      method: "GET",
      path: `${base}/reference-data/sync/status?connectionId=conn-1`,
      caller: caller(A),
    });
    const rows = (status.body.data as { dataTypes: Record<string, unknown>[] }).dataTypes;
    expect(rows.map((r) => [r.status, r.pauseReason])).toEqual([
      ["paused", "manual"],
      ["paused", "manual"],
    ]);

    const resumed = await patch(stack, { paused: false });
    expect(resumed.body.data).toMatchObject({ connection: { paused: false }, partitions: { resumed: 2 } });
    expect((await plan(stack)).claimed).toBe(2);
  });

  it("shows a TTL override in nextSyncAt and clears it with null", async () => {
    const stack = await seeded();
    const lastSynced = stack.clock.now();
    const result = await patch(stack, { ttlSeconds: 600 });
    expect(result.body.data).toMatchObject({ connection: { ttlSeconds: 600 }, partitions: { rescheduled: 2 } });
    const status = await stack.call(syncHandler, {
      method: "GET",
      path: `${base}/reference-data/sync/status?connectionId=conn-1`,
      caller: caller(A),
    });
    const rows = (status.body.data as { dataTypes: { nextSyncAt: string }[] }).dataTypes;
    expect(rows.map((r) => r.nextSyncAt)).toEqual([
      new Date(lastSynced + 600_000).toISOString(),
      new Date(lastSynced + 600_000).toISOString(),
    ]);
    const cleared = await patch(stack, { ttlSeconds: null });
    expect(cleared.body.data).toMatchObject({ connection: { ttlSeconds: null } });
  });

  it("rejects a TTL under 60 s, an empty body and a revoked or unknown connection", async () => {
    const stack = await seeded();
    expect((await patch(stack, { ttlSeconds: 59 })).status).toBe(400);
    expect((await patch(stack, {})).status).toBe(400);
    expect((await patch(stack, { paused: "yes" })).status).toBe(400);
    expect((await patch(stack, { paused: true }, "nobody")).status).toBe(404);
    await stack.call(configHandler, { method: "DELETE", path: `${base}/connections/conn-1`, caller: caller(A) });
    expect((await patch(stack, { paused: true })).status).toBe(409);
  });
});
