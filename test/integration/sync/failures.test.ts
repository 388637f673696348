/**
 * Failure handling end to end: a failed or partial sync changes no item status and never writes the manifest; each
 * class of gateway error has its outcome (retry with backoff, pause, continue later); bad messages go to the DLQ with a
 * reason; transient storage errors are redelivered; a worker that lost its lease commits nothing.
 */
import { PurgeQueueCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { defaultDatasets, type ScriptedFailure } from "../../../infra/local/sample-gateway/index.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { sourceInputSchema } from "../../../shared/domain/source-config.js";
import { createLogger } from "../../../shared/log.js";
import { keys } from "../../../shared/storage/keys.js";
import { REQUEUE_WINDOW_MS, RETRY_BASE_MS } from "../../../shared/sync/durations.js";
import { runPlanner } from "../../../shared/sync/plan.js";
import {
  createEnv,
  type Env,
  outcomes,
  type Servers,
  slackCursorPages,
  startServers,
  TENANT,
} from "../../support/sync-harness.js";

const silent = createLogger({}, "silent");
let servers: Servers;
let env: Env;
let users: PartitionRef;

const CURSOR_5 = slackCursorPages(5);

beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});
beforeEach(async () => {
  env = await createEnv(servers);
  servers.gateway.data.slackUsers = defaultDatasets().slackUsers;
  servers.gateway.calls.length = 0;
  [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], override: CURSOR_5 })) as [PartitionRef];
});

async function sync(ref: PartitionRef = users, invocation = {}) {
  await env.request(ref);
  const { results } = await env.drain(invocation);
  const [outcome] = outcomes(results);
  if (!outcome) throw new Error(`no sync ran: ${JSON.stringify(results)}`);
  return outcome;
}

const fail = (status: number, code: string, extra: Partial<ScriptedFailure> = {}): ScriptedFailure => ({
  status,
  code,
  ...extra,
});

describe("failed syncs", () => {
  it("change no item status and keep the committed version when a page fails after retries", async () => {
    await sync();
    const before = await env.items(users);
    servers.gateway.data.slackUsers = servers.gateway.data.slackUsers.filter((u) => u.id !== "U12DEPLO");
    env.clock.advance(60_000);
    const failedAt = env.clock.now();

    const outcome = await sync(users, {
      hooks: {
        afterPage: ({ page }: { page: number }) => {
          if (page === 0) servers.gateway.failNext(...Array.from({ length: 3 }, () => fail(500, "INTERNAL_ERROR")));
        },
      },
    });

    expect(outcome).toMatchObject({ status: "failed", error: { code: "INTERNAL_ERROR", retryable: true } });
    const after = await env.items(users);
    expect(after.get("U12DEPLO")?.status).toBe("active");
    for (const [id, item] of before) expect(after.get(id)?.status).toBe(item.status);
    const partition = await env.partition(users);
    expect(partition).toMatchObject({ status: "failed", version: 1, consecutiveFailures: 1, lastJobStatus: "failed" });
    expect(partition.lastError?.code).toBe("INTERNAL_ERROR");
    // Backoff: 60 s × 2^0, jittered down by at most 10%.
    const retryIn = Date.parse(partition.nextSyncAt) - failedAt;
    expect(retryIn).toBeGreaterThanOrEqual(54_000);
    expect(retryIn).toBeLessThanOrEqual(60_000 + (env.clock.now() - failedAt));
    const [job] = await env.jobs(users);
    expect(job).toMatchObject({ status: "failed", error: { code: "INTERNAL_ERROR" } });
    expect(job?.completedAt).toBeDefined();

    // The next sync completes and applies what the failed one could not.
    env.clock.advance(2 * RETRY_BASE_MS);
    expect(await sync()).toMatchObject({ status: "completed", counts: { itemsDeleted: 1, itemsFound: 11 } });
    expect((await env.items(users)).get("U12DEPLO")?.status).toBe("inactive");
    expect(await env.partition(users)).toMatchObject({ status: "idle", version: 2, consecutiveFailures: 0 });
  });

  it("pause the partition when the connection's credentials are gone, and keep its data", async () => {
    const [expired] = (await env.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      connections: ["expired"],
      override: CURSOR_5,
    })) as [PartitionRef];

    const outcome = await sync(expired);

    expect(outcome).toMatchObject({ status: "failed", paused: "credentials", error: { code: "CREDENTIALS_EXPIRED" } });
    expect(await env.partition(expired)).toMatchObject({ status: "paused", pauseReason: "credentials" });
    // A paused partition leaves the due index: the planner never sees it.
    const row = await servers.dynamo.doc.send(
      new (await import("@aws-sdk/lib-dynamodb")).GetCommand({
        TableName: env.tableName,
        Key: keys.partition(expired),
      }),
    );
    expect(row.Item?.GSI1PK).toBeUndefined();
  });

  it("pause the partition as a configuration error with the source revision on a 404", async () => {
    await env.repos.sources.put(
      TENANT,
      "slack",
      "users",
      sourceInputSchema.parse({
        integrationSlug: "slack",
        actionSlug: "no-such-action",
        referenceData: { dataType: "users", extractionPath: "$.members[*]" },
      }),
      env.clock.now(),
    );

    const outcome = await sync();

    expect(outcome).toMatchObject({ status: "failed", paused: "config", error: { code: "ACTION_NOT_FOUND" } });
    expect(await env.partition(users)).toMatchObject({ status: "paused", pauseReason: "config", sourceRevision: 2 });
  });

  it("pause every partition of the tenant (gateway_key), and no other tenant's, when Waygate refuses its key", async () => {
    const [repositories] = (await env.seed({ integrationId: "github", dataTypes: ["repositories"] })) as [PartitionRef];
    const [other] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], tenantId: "other-tenant" })) as [
      PartitionRef,
    ];
    servers.gateway.failNext(fail(401, "INVALID_API_KEY"));

    const outcome = await sync();

    // Never retried: the same key would be refused again.
    expect(servers.gateway.calls).toHaveLength(1);
    expect(outcome).toMatchObject({ status: "failed", paused: "gateway_key", error: { code: "INVALID_API_KEY" } });
    expect(await env.partition(users)).toMatchObject({ status: "paused", pauseReason: "gateway_key" });
    expect(await env.partition(repositories)).toMatchObject({ status: "paused", pauseReason: "gateway_key" });
    expect((await env.partition(other))?.status).toBe("idle");
  });

  it("retry with backoff, never pause, on a 401 that is not one of Waygate's key codes", async () => {
    servers.gateway.failNext(...Array.from({ length: 3 }, () => fail(401, "TOKEN_REVOKED")));

    const outcome = await sync();

    expect(outcome).toMatchObject({ status: "failed", error: { code: "TOKEN_REVOKED" } });
    expect(outcome).not.toHaveProperty("paused");
    expect(await env.partition(users)).toMatchObject({ status: "failed", consecutiveFailures: 1 });
  });

  it("pause a partition whose source was deleted", async () => {
    await env.repos.sources.delete(TENANT, "slack", "users");
    const outcome = await sync();
    expect(outcome).toMatchObject({ status: "failed", paused: "source_deleted", error: { code: "SOURCE_NOT_FOUND" } });
    expect(await env.partition(users)).toMatchObject({ status: "paused", pauseReason: "source_deleted" });
  });
});

describe("stale messages", () => {
  it("fail their job, not the partition, when the partition was paused after planning", async () => {
    const now = env.clock.now();
    await runPlanner(
      { repos: env.repos, queue: env.queue, clock: env.clock, log: silent },
      { now, deadline: now + 60_000 },
    );
    // The connection is revoked between planning and syncing: the API pauses its partitions.
    await env.repos.partitions.pause(users, "revoked", env.clock.now());

    const [outcome] = outcomes((await env.drain()).results);

    expect(outcome).toMatchObject({ status: "skipped" });
    const [job] = await env.jobs(users);
    expect(job).toMatchObject({ status: "failed", error: { code: "PARTITION_PAUSED" } });
    expect(await env.partition(users)).toMatchObject({ status: "paused", pauseReason: "revoked" });
    expect(servers.gateway.calls).toHaveLength(0);
  });

  it("lose nothing when the planner's message is lost: the partition comes back under a new job", async () => {
    const now = env.clock.now();
    const deps = { repos: env.repos, queue: env.queue, clock: env.clock, log: silent };
    await runPlanner(deps, { now, deadline: now + 60_000 });
    await servers.sqs.sqs.send(new PurgeQueueCommand({ QueueUrl: env.queueUrl }));
    env.clock.advance(REQUEUE_WINDOW_MS + 60_000);

    const later = env.clock.now();
    expect(await runPlanner(deps, { now: later, deadline: later + 60_000 })).toMatchObject({
      claimed: 1,
      takenOver: 1,
    });
    const [outcome] = outcomes((await env.drain()).results);

    expect(outcome).toMatchObject({ status: "completed", counts: { itemsCreated: 12 } });
    const [newest, lost] = await env.jobs(users);
    expect(newest?.status).toBe("completed");
    expect(lost).toMatchObject({ status: "failed", error: { code: "NOT_PICKED_UP" } });
    // The lost job never ran, so the new one had nothing to reconcile.
    expect(env.queue.sends.at(-1)?.messages[0]).not.toHaveProperty("reconcile");
  });
});

describe("rate limits", () => {
  it("wait Retry-After inside the time budget and retry the same page with the same idempotency key", async () => {
    servers.gateway.failNext(fail(429, "RATE_LIMITED", { retryAfterHeader: "2" }));
    const before = env.clock.offset;

    const outcome = await sync();

    expect(outcome).toMatchObject({ status: "completed", counts: { itemsFound: 12 } });
    expect(env.clock.offset - before).toBeGreaterThanOrEqual(2_000);
    const [first, second] = servers.gateway.calls;
    expect(first?.status).toBe(429);
    expect(second?.idempotencyKey).toBe(first?.idempotencyKey);
  });

  it("checkpoint and continue in a delayed invocation when Retry-After does not fit the budget", async () => {
    servers.gateway.data.slackUsers = servers.gateway.data.slackUsers.filter((u) => u.id !== "U12DEPLO");
    await sync();
    servers.gateway.data.slackUsers = defaultDatasets().slackUsers;
    env.clock.advance(60_000);
    const hooks = {
      afterPage: ({ page }: { page: number }) => {
        if (page === 0) servers.gateway.failNext(fail(429, "RATE_LIMITED", { retryAfterMs: 3_600_000 }));
      },
    };

    await env.request(users);
    const { results } = await env.drain((n) => (n === 0 ? { hooks } : {}));

    const [continued, completed] = outcomes(results);
    expect(continued).toMatchObject({ status: "continued", page: 1, delaySeconds: 900 });
    expect(completed).toMatchObject({
      status: "completed",
      counts: { itemsFound: 12, itemsCreated: 1, itemsUpdated: 0, itemsDeleted: 0 },
    });
    const continuation = env.queue.sends.find((send) => send.options.delaySeconds === 900);
    expect(continuation?.messages[0]).toMatchObject({ continuation: { page: 1 } });
    const [job] = await env.jobs(users);
    expect(job).toMatchObject({ status: "completed", invocations: 2, pages: 3 });
  });
});

describe("transient failures", () => {
  it("retry the job after a storage error and finish with the counts of a clean run", async () => {
    let failures = 1;
    const doc = servers.dynamo.doc;
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        if (/^BatchWrite(Item)?Command$/.test(String(context.commandName)) && failures > 0) {
          failures--;
          throw Object.assign(new Error("Rate of requests exceeds the allowed throughput"), {
            name: "ProvisionedThroughputExceededException",
          });
        }
        return next(args);
      },
      { step: "initialize", name: "injectThrottle" },
    );
    try {
      const { results } = await (async () => {
        await env.request(users);
        return env.drain();
      })();

      // The jobless request is handed over to a message naming its job, which finishes the sync.
      const [handedOver, completed] = outcomes(results);
      expect(handedOver).toMatchObject({ status: "continued", page: 0 });
      expect(completed).toMatchObject({ status: "completed", counts: { itemsFound: 12, itemsCreated: 12 } });
      const [job] = await env.jobs(users);
      expect(job).toMatchObject({ status: "completed", invocations: 2 });
      expect((await env.items(users)).size).toBe(12);
    } finally {
      doc.middlewareStack.remove("injectThrottle");
    }
  });
});

describe("lease", () => {
  it("a worker that lost its lease mid-sync commits nothing", async () => {
    const outcome = await sync(users, {
      hooks: {
        afterPage: async ({ page }: { page: number }) => {
          if (page !== 1) return;
          await servers.dynamo.doc.send(
            new UpdateCommand({
              TableName: env.tableName,
              Key: keys.partition(users),
              UpdateExpression: "SET leaseOwner = :thief",
              ExpressionAttributeValues: { ":thief": "another-worker" },
            }),
          );
        },
      },
    });

    expect(outcome).toMatchObject({ status: "skipped", reason: "lease lost" });
    const partition = await env.partition(users);
    expect(partition).toMatchObject({ version: 0, status: "syncing", leaseOwner: "another-worker" });
    const [job] = await env.jobs(users);
    expect(job?.status).toBe("syncing");
  });
});

describe("malformed messages", () => {
  it("go to the DLQ with their reason and are not retried", async () => {
    const send = (body: string) =>
      servers.sqs.sqs.send(new SendMessageCommand({ QueueUrl: env.queueUrl, MessageBody: body }));
    await send("this is not json");
    await send(JSON.stringify({ v: 2, tenantId: TENANT }));
    await send(JSON.stringify({ v: 1, kind: "sync", ...users, tenantId: "evil#tenant", trigger: "manual" }));
    await send(JSON.stringify({ v: 1, kind: "sync", ...users, trigger: "manual", jobId: "bad job id!" }));
    await send(JSON.stringify({ v: 1, kind: "sync", ...users, dataType: "unknown", trigger: "manual" }));

    const { results } = await env.drain();

    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 5 }, () => "dead_lettered"));
    const dead = [...(await env.deadLetters()), ...(await env.deadLetters())];
    expect(dead).toHaveLength(5);
    const reasons = dead.map((d) => d.reason ?? "");
    expect(reasons).toContainEqual(expect.stringContaining("not valid JSON"));
    expect(reasons).toContainEqual(expect.stringContaining("tenantId"));
    expect(reasons).toContainEqual(expect.stringContaining("jobId"));
    expect(reasons).toContainEqual(expect.stringContaining("no such partition"));
    expect(dead.map((d) => d.body)).toContain("this is not json");
    // Handled: nothing is left to redeliver.
    expect((await env.drain()).invocations).toBe(0);
  });
});
