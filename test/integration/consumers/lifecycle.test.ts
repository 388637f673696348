/**
 * Lifecycle over dynalite and fauxqs: tenant erasure through the API and the worker's erase passes (nothing of the
 * tenant left in a full scan, its keys no longer resolve, other tenants untouched); purges of revoked partitions after
 * the retention, by planner messages; the local TTL sweeper.
 */
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as configHandler } from "../../../functions/api-config/handler.js";
import { sweepExpired } from "../../../infra/local/ttl-sweeper.js";
import type { EraseMessage, PurgeMessage } from "../../../shared/domain/sync-message.js";
import { createSqsEraseQueue } from "../../../shared/lifecycle/erasure.js";
import { createTableRows } from "../../../shared/lifecycle/table-rows.js";
import { type LifecycleDeps, runLifecycleMessage } from "../../../shared/lifecycle/worker.js";
import { createLogger } from "../../../shared/log.js";
import { getRuntime } from "../../../shared/runtime.js";
import { runPlanner } from "../../../shared/sync/plan.js";
import {
  caller,
  completeSync,
  freshStack,
  type Servers,
  type Stack,
  seedIntegration,
  startServers,
} from "../api/fixture.js";

const A = "tenant-a";
const B = "tenant-b";
let servers: Servers;
beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});

function lifecycleDeps(stack: Stack): LifecycleDeps {
  const { doc, sqs } = getRuntime();
  const log = createLogger({}, "silent");
  return {
    repos: stack.repos,
    rows: createTableRows(doc, stack.tableName),
    erasure: { doc, tableName: stack.tableName, queue: createSqsEraseQueue(sqs, stack.queueUrl), clock: stack.clock },
    clock: stack.clock,
    log,
  };
}

/** Runs queued lifecycle messages the way the worker does, until the queue is empty. */
async function work(stack: Stack): Promise<string[]> {
  const details: string[] = [];
  for (let round = 0; round < 50; round++) {
    const messages = await stack.drain();
    if (messages.length === 0) return details;
    for (const message of messages) {
      details.push(
        await runLifecycleMessage(
          lifecycleDeps(stack),
          message as unknown as PurgeMessage | EraseMessage,
          () => 900_000,
        ),
      );
    }
  }
  throw new Error("lifecycle messages did not stop");
}

async function populate(stack: Stack, tenantId: string) {
  const refs = await seedIntegration(stack, {
    tenantId,
    integrationId: "slack",
    dataTypes: ["users", "channels"],
    connections: ["default"],
  });
  for (const [n, ref] of refs.entries()) {
    await completeSync(stack, ref, { jobId: `01JOB${tenantId.length}000000000000000000${n}` });
    await stack.repos.items.batchPut(
      ref,
      Array.from({ length: 30 }, (_, i) => ({
        externalId: `U${i}`,
        name: `User ${i}`,
        lookup: {},
        metadata: {},
        status: "active" as const,
        contentHash: `h${i}`,
        jobId: "01JOB",
        change: "created" as const,
        createdAt: "2026-03-01T00:00:00.000Z",
        updatedAt: "2026-03-01T00:00:00.000Z",
      })),
    );
  }
  // Rows other issues add under the tenant (gateway credentials, discovery state) go too: erasure is generic.
  const { doc } = getRuntime();
  await doc.send(new PutCommand({ TableName: stack.tableName, Item: { PK: `T#${tenantId}`, SK: "GWKEY", c: "x" } }));
  await doc.send(new PutCommand({ TableName: stack.tableName, Item: { PK: `T#${tenantId}`, SK: "DISCOVERY" } }));
  const { key } = await stack.repos.apiKeys.create(tenantId, {
    name: "k",
    scopes: ["read", "sync", "admin"],
    now: stack.clock.now(),
  });
  return { refs, key };
}

describe("tenant erasure", () => {
  it("removes every row of the tenant, its API keys and credentials, and nothing of another tenant", async () => {
    const stack = await freshStack(servers);
    const a = await populate(stack, A);
    const b = await populate(stack, B);
    const bRows = await stack.tenantRows(B);
    expect((await stack.tenantRows(A)).length).toBeGreaterThan(60);

    const wrong = await stack.call(configHandler, {
      method: "DELETE",
      path: "/api/v1/tenant",
      body: { confirm: B },
      caller: caller(A),
    });
    expect(wrong.status).toBe(400);
    const accepted = await stack.call(configHandler, {
      method: "DELETE",
      path: "/api/v1/tenant",
      body: { confirm: A },
      caller: caller(A),
    });
    expect(accepted.status).toBe(202);
    expect(accepted.body.data).toMatchObject({ status: "queued", rowsDeleted: 0 });

    // Progress stays visible between the passes (the keys and the progress row go last).
    const first = await stack.drain();
    expect(first).toEqual([{ v: 1, kind: "erase", tenantId: A, phase: "data" }]);
    await runLifecycleMessage(lifecycleDeps(stack), first[0] as unknown as EraseMessage, () => 900_000);
    const progress = await stack.call(configHandler, { method: "GET", path: "/api/v1/tenant", caller: caller(A) });
    expect(progress.status).toBe(200);
    expect(progress.body.data).toMatchObject({ status: "erasing", phase: "data" });
    expect(await stack.repos.apiKeys.resolve(a.key)).toBeDefined();
    await work(stack);

    expect(await stack.tenantRows(A)).toEqual([]);
    expect(await stack.repos.apiKeys.resolve(a.key)).toBeUndefined();
    expect(await stack.tenantRows(B)).toEqual(bRows);
    expect(await stack.repos.apiKeys.resolve(b.key)).toMatchObject({ tenantId: B });
  });
});

describe("purges", () => {
  it("purges a revoked connection's partitions after REVOKED_RETENTION_DAYS, by planner messages", async () => {
    const stack = await freshStack(servers);
    const { refs } = await populate(stack, A);
    const revoked = await stack.call(configHandler, {
      method: "DELETE",
      path: "/api/v1/integrations/slack/connections/default",
      caller: caller(A),
    });
    expect(revoked.status).toBe(200);
    const { queue } = getRuntime();
    if (!queue) throw new Error("no queue");
    const plan = async () => {
      const now = stack.clock.now();
      await runPlanner(
        { repos: stack.repos, queue, clock: stack.clock, log: createLogger({}, "silent") },
        { now, deadline: now + 60_000 },
      );
    };
    await stack.drain();
    stack.clock.t += 29 * 86_400_000;
    await plan();
    expect(await stack.drain()).toEqual([]);
    expect((await stack.repos.items.listAll(refs[0] as (typeof refs)[0])).length).toBe(30);

    stack.clock.t += 2 * 86_400_000;
    await plan();
    const details = await work(stack);
    expect(details).toEqual(["purged 30 rows", "purged 30 rows"]);
    for (const ref of refs) {
      expect(await stack.repos.items.listAll(ref)).toEqual([]);
      expect(await stack.repos.partitions.get(ref)).toBeUndefined();
    }
  });

  it("keeps a partition whose connection was enrolled again before its purge", async () => {
    const stack = await freshStack(servers);
    const { refs } = await populate(stack, A);
    await stack.call(configHandler, {
      method: "DELETE",
      path: "/api/v1/integrations/slack/connections/default",
      caller: caller(A),
    });
    await stack.call(configHandler, {
      method: "PUT",
      path: "/api/v1/integrations/slack/connections/default",
      caller: caller(A),
    });
    const message: PurgeMessage = { v: 1, kind: "purge", ...(refs[0] as (typeof refs)[0]) };
    expect(await runLifecycleMessage(lifecycleDeps(stack), message, () => 900_000)).toMatch(/^kept/);
    expect((await stack.repos.items.listAll(refs[0] as (typeof refs)[0])).length).toBe(30);
  });
});

describe("local TTL sweeper", () => {
  it("deletes rows whose expiresAt has passed and keeps the others", async () => {
    const stack = await freshStack(servers);
    const { doc } = getRuntime();
    await doc.send(new PutCommand({ TableName: stack.tableName, Item: { PK: `T#${A}#x`, SK: "old", expiresAt: 100 } }));
    await doc.send(new PutCommand({ TableName: stack.tableName, Item: { PK: `T#${A}#x`, SK: "new", expiresAt: 300 } }));
    await doc.send(new PutCommand({ TableName: stack.tableName, Item: { PK: `T#${A}#x`, SK: "none" } }));
    expect(await sweepExpired(doc, stack.tableName, 200)).toBe(1);
    expect((await stack.tenantRows(A)).map((row) => row.SK)).toEqual(["new", "none"]);
  });
});
