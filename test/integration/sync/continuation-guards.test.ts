/**
 * Issue 11, the gaps of multi-invocation syncs: an item that moves to an already-read page while a sync is split across
 * invocations is not deactivated (items unseen only because of a continuation are re-checked); a gateway-paged object
 * checkpoints and continues like a list; the trigger decides "took over" from its claim, not from an earlier read.
 * dynalite + fauxqs + the sample gateway over loopback.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { defaultDatasets } from "../../../infra/local/sample-gateway/index.js";
import { ObjectCache, readObject } from "../../../shared/api/query/objects.js";
import { triggerSync } from "../../../shared/api/sync/trigger.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { createLogger } from "../../../shared/log.js";
import type { PartitionRepository } from "../../../shared/storage/ports.js";
import { LEASE_MS, REQUEUE_WINDOW_MS } from "../../../shared/sync/durations.js";
import {
  createEnv,
  type Env,
  outcomes,
  type Servers,
  slackCursorPages,
  startServers,
} from "../../support/sync-harness.js";

let servers: Servers;
let env: Env;

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
});

describe("a list sync split across invocations", () => {
  it("does not deactivate an item that moved to an already-read page between invocations", async () => {
    const [users] = (await env.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      override: slackCursorPages(5),
    })) as [PartitionRef];
    await env.request(users);
    await env.drain();
    env.clock.advance(3_700_000);
    const original = servers.gateway.data.slackUsers.map((u) => u.id);
    const removed = original[0] as string;
    // Offset paging: once page 0 is read, the first user leaves, and everyone moves up one place. The user at index 5
    // is now on page 0, which this sync has already read.
    const moved = original[5] as string;

    await env.request(users);
    let mutated = false;
    const { results } = await env.drain({
      pageBudget: 1,
      hooks: {
        afterPage: ({ page }) => {
          if (page === 0 && !mutated) {
            mutated = true;
            servers.gateway.data.slackUsers = servers.gateway.data.slackUsers.filter((u) => u.id !== removed);
          }
        },
      },
    });

    const [outcome] = outcomes(results).filter((o) => o.status === "completed");
    expect(outcome).toMatchObject({ status: "completed" });
    const items = await env.items(users);
    expect(items.get(moved)?.status).toBe("active");
    // The user who left was read before leaving: the next sync takes it out.
    expect(items.get(removed)?.status).toBe("active");
    env.clock.advance(3_700_000);
    await env.request(users);
    await env.drain();
    expect((await env.items(users)).get(removed)?.status).toBe("inactive");
    expect((await env.items(users)).get(moved)?.status).toBe("active");
  });

  it("still deactivates what is really gone when the sync spans invocations", async () => {
    const [users] = (await env.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      override: slackCursorPages(5),
    })) as [PartitionRef];
    await env.request(users);
    await env.drain();
    env.clock.advance(3_700_000);
    const gone = servers.gateway.data.slackUsers.at(-1)?.id as string;
    servers.gateway.data.slackUsers = servers.gateway.data.slackUsers.slice(0, -1);

    await env.request(users);
    await env.drain({ pageBudget: 1 });

    expect((await env.items(users)).get(gone)?.status).toBe("inactive");
  });
});

describe("a gateway-paged object sync", () => {
  it("checkpoints and continues across invocations, and commits the whole object", async () => {
    const [ref] = (await env.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      override: { syncType: "object", extractionPath: undefined, pagination: { strategy: "gateway" } },
    })) as [PartitionRef];
    await env.repos.sources.put(
      ref.tenantId,
      ref.integrationId,
      ref.dataType,
      {
        integrationSlug: "slack",
        actionSlug: "list-users-paged",
        referenceData: {
          dataType: "users",
          syncable: true,
          syncType: "object",
          idField: "id",
          nameField: "name",
          fuzzyMatch: true,
          metadataFields: [],
          defaultTtlSeconds: 3600,
          pagination: { strategy: "gateway" },
          request: { limit: 4 },
        },
      },
      env.clock.now(),
    );

    await env.request(ref);
    const { results } = await env.drain({ pageBudget: 1 });

    const statuses = outcomes(results).map((o) => o.status);
    expect(statuses.filter((s) => s === "continued").length).toBeGreaterThanOrEqual(2);
    expect(statuses.at(-1)).toBe("completed");
    const partition = await env.partition(ref);
    const stored = await readObject(env.repos.objects, ref, partition, new ObjectCache());
    const members = (stored.object as { members: { id: string }[] }).members;
    expect(members.map((m) => m.id)).toEqual(servers.gateway.data.slackUsers.map((u) => u.id));
  });
});

describe("the trigger's take-over", () => {
  it("is decided by the claim: a worker that died between the trigger's read and its claim is taken over", async () => {
    const [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"] })) as [PartitionRef];
    const dead = "01DEADWORKERJOB00000000000";
    const partitions: PartitionRepository = Object.create(env.repos.partitions);
    let raced = false;
    partitions.claim = async (ref, input) => {
      if (!raced) {
        raced = true;
        // Between the trigger's read (idle) and its claim, a worker claimed the partition and died holding the lease.
        const past = input.now - 3_600_000;
        await env.repos.partitions.claim(ref, { jobId: dead, now: past, requeueDeadline: past + REQUEUE_WINDOW_MS });
        await env.repos.jobs.create({ ref, jobId: dead, trigger: "schedule", mode: "full", now: past });
        await env.repos.partitions.acquireLease(ref, { jobId: dead, owner: "dead", now: past, leaseMs: LEASE_MS });
      }
      return env.repos.partitions.claim(ref, input);
    };
    const sent: unknown[] = [];

    const outcome = await triggerSync(
      {
        repos: { ...env.repos, partitions },
        queue: {
          async send(messages) {
            sent.push(...messages);
            return { failed: [], sendBatchCalls: 1 };
          },
        },
        clock: env.clock,
        log: createLogger({}, "silent"),
      },
      { tenantId: users.tenantId, integrationId: users.integrationId, body: { dataType: "users" } },
    );

    expect(outcome.jobs[0]).toMatchObject({ status: "pending", deduplicated: false });
    expect(sent[0]).toMatchObject({ reconcile: true });
    const deadJob = await env.repos.jobs.get(users.tenantId, users.integrationId, dead);
    expect(deadJob).toMatchObject({ status: "failed", error: { code: "LEASE_EXPIRED" } });
  });

  it("does not claim a take-over when the job it read finished before the claim", async () => {
    const [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"] })) as [PartitionRef];
    const old = "01OLDJOB000000000000000000";
    const past = env.clock.now() - 3_600_000;
    await env.repos.partitions.claim(users, { jobId: old, now: past, requeueDeadline: past + REQUEUE_WINDOW_MS });
    await env.repos.jobs.create({ ref: users, jobId: old, trigger: "schedule", mode: "full", now: past });
    await env.repos.partitions.acquireLease(users, { jobId: old, owner: "slow", now: past, leaseMs: LEASE_MS });
    const partitions: PartitionRepository = Object.create(env.repos.partitions);
    let raced = false;
    partitions.claim = async (ref, input) => {
      if (!raced) {
        raced = true;
        // The slow worker commits between the trigger's read (syncing, lease expired) and its claim.
        await env.repos.partitions.recordSuccess(ref, {
          jobId: old,
          owner: "slow",
          now: input.now - 1000,
          nextSyncAt: input.now + 3_600_000,
          version: 1,
          manifestChunks: 0,
          objectChunks: 0,
          itemCount: 0,
          startedAt: past,
          full: true,
        });
      }
      return env.repos.partitions.claim(ref, input);
    };
    const sent: Record<string, unknown>[] = [];

    await triggerSync(
      {
        repos: { ...env.repos, partitions },
        queue: {
          async send(messages) {
            sent.push(...(messages as unknown as Record<string, unknown>[]));
            return { failed: [], sendBatchCalls: 1 };
          },
        },
        clock: env.clock,
        log: createLogger({}, "silent"),
      },
      { tenantId: users.tenantId, integrationId: users.integrationId, body: { dataType: "users" } },
    );

    expect(sent[0]?.reconcile).toBeUndefined();
  });
});
