/**
 * The change feed and job events over dynalite and the sample gateway: every change exactly once when following
 * cursors, across crash-and-redelivery, take-over and continuations; nothing extra for an unchanged resync; an event
 * per committed job with the job's counts; 410 past the retention.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type SlackUser, syntheticSlackUsers } from "../../../infra/local/sample-gateway/index.js";
import { getChanges } from "../../../shared/api/query/changes.js";
import { GoneError } from "../../../shared/domain/errors.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import type { EventPublisher, ServiceEvent } from "../../../shared/events/events.js";
import { createLogger } from "../../../shared/log.js";
import { runPlanner } from "../../../shared/sync/plan.js";
import { SimulatedCrash } from "../../../shared/sync/run-sync.js";
import {
  createEnv,
  type Env,
  outcomes,
  type Servers,
  slackCursorPages,
  startServers,
  TENANT,
} from "../../support/sync-harness.js";
import { countRequests } from "../storage/fixtures.js";

let servers: Servers;
let env: Env;
let events: ServiceEvent[];
const publisher: EventPublisher = { publish: async (batch) => void events.push(...batch) };
const SECRET = "change-feed-test-cursor-secret";

beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});
beforeEach(async () => {
  events = [];
  env = await createEnv(servers, {}, {}, { events: publisher });
});

async function seedUsers(users: SlackUser[], pageSize = 10): Promise<PartitionRef> {
  servers.gateway.data.slackUsers = users;
  const [ref] = (await env.seed({
    integrationId: "slack",
    dataTypes: ["users"],
    override: slackCursorPages(pageSize),
  })) as [PartitionRef];
  return ref;
}

async function sync(ref: PartitionRef) {
  env.clock.advance(60_000);
  await env.request(ref);
  return outcomes((await env.drain()).results);
}

/** Follows cursors from `since` until `hasMore` is false; returns every change and the last cursor. */
async function follow(since: string | undefined, limit = 7) {
  const changes: { externalId: string; change: string; jobId: string; name: string }[] = [];
  let cursor = since;
  for (let page = 0; page < 1_000; page++) {
    const result = await getChanges(
      { repos: env.repos, clock: env.clock, cursorKeys: { current: SECRET }, retentionDays: 30 },
      {
        tenantId: TENANT,
        integrationId: "slack",
        query: { dataType: "users", limit, ...(cursor ? { since: cursor } : {}) },
      },
    );
    changes.push(...result.data.changes);
    cursor = result.pagination.cursor ?? undefined;
    if (!result.pagination.hasMore) return { changes, cursor };
  }
  throw new Error("the feed did not end");
}

const kinds = (changes: { externalId: string; change: string }[]) =>
  Object.fromEntries(changes.map((c) => [c.externalId, c.change]));

function mutate(users: SlackUser[]): SlackUser[] {
  const next = users.map((u) => ({ ...u, profile: { ...u.profile } }));
  (next[0] as SlackUser).profile.real_name = "Renamed Zero";
  (next[1] as SlackUser).deleted = true;
  next.splice(2, 1); // users[2] vanishes
  next.push({
    ...(users[0] as SlackUser),
    id: "UNEWCOMER",
    name: "newcomer",
    profile: { real_name: "New Comer", display_name: "nc" },
  });
  return next;
}

describe("change feed", () => {
  it("lists every change of each committed sync exactly once, in commit order, following cursors", async () => {
    const base = syntheticSlackUsers(25, 4);
    const ref = await seedUsers(base);
    await sync(ref);
    const first = await follow(undefined);
    expect(first.changes).toHaveLength(25);
    expect(new Set(first.changes.map((c) => c.externalId)).size).toBe(25);
    expect(first.changes.every((c) => c.change === "created")).toBe(true);

    servers.gateway.data.slackUsers = mutate(base);
    await sync(ref);
    const second = await follow(first.cursor);
    expect(kinds(second.changes)).toEqual({
      [base[0]?.id as string]: "updated",
      [base[1]?.id as string]: "deleted",
      [base[2]?.id as string]: "deactivated",
      UNEWCOMER: "created",
    });

    // Lifecycle: the items that left `active` carry a TTL INACTIVE_RETENTION_DAYS out; the others none.
    const expiry = Math.floor(env.clock.now() / 1000) + 30 * 86_400;
    const items = await env.items(ref);
    expect(items.get(base[1]?.id as string)?.expiresAt).toBeCloseTo(expiry, -2);
    expect(items.get(base[2]?.id as string)?.expiresAt).toBeCloseTo(expiry, -2);
    expect(items.get(base[0]?.id as string)?.expiresAt).toBeUndefined();

    servers.gateway.data.slackUsers = base;
    await sync(ref);
    const back = await env.items(ref);
    expect(back.get(base[1]?.id as string)?.expiresAt).toBeUndefined();
    expect(back.get(base[2]?.id as string)?.expiresAt).toBeUndefined();
    expect(back.get("UNEWCOMER")?.expiresAt).toBeGreaterThan(expiry);
    const third = await follow(second.cursor);
    expect(kinds(third.changes)).toMatchObject({
      [base[0]?.id as string]: "updated",
      [base[1]?.id as string]: "reactivated",
      [base[2]?.id as string]: "reactivated",
      UNEWCOMER: "deactivated",
    });
    // Commit order: the whole history from the start is every sync's changes, oldest sync first.
    const all = await follow(undefined, 500);
    expect(all.changes.map((c) => c.jobId)).toEqual(
      [...first.changes, ...second.changes, ...third.changes].map((c) => c.jobId),
    );
  });

  it("adds no rows and reads only partition rows for an unchanged resync", async () => {
    const ref = await seedUsers(syntheticSlackUsers(40, 8));
    await sync(ref);
    const { cursor } = await follow(undefined);
    const before = (await env.repos.changes.commits(ref, 0, 100, 100)).length;

    const [unchanged] = await sync(ref);
    expect(unchanged).toMatchObject({ status: "completed", itemWrites: 0 });
    const counter = countRequests(servers.dynamo);
    try {
      const after = await follow(cursor);
      expect(after.changes).toEqual([]);
      // One Query of the partition rows; no commit or change rows read.
      expect(Object.fromEntries(counter.counts)).toEqual({ QueryCommand: 1 });
    } finally {
      counter.stop();
    }
    expect((await env.repos.changes.commits(ref, 0, 100, 100)).length).toBe(before);
  });

  it("is exact across a crash and redelivery of the sync that made the changes, and a take-over", async () => {
    // Item rows are flushed 25 at a time, so the dead worker leaves 25 written, uncommitted changes behind.
    env = await createEnv(servers, { writeBufferItems: 25 }, {}, { events: publisher });
    const base = syntheticSlackUsers(60, 9);
    const ref = await seedUsers(base, 30);
    await sync(ref);
    const { cursor } = await follow(undefined);

    const renamed = base.map((u, n) => (n < 26 ? { ...u, profile: { ...u.profile, real_name: `Renamed ${n}` } } : u));
    servers.gateway.data.slackUsers = renamed;
    env.clock.advance(60_000);
    await env.request(ref);
    const crash = {
      hooks: {
        afterPage: ({ page }: { page: number }) => {
          if (page === 0) throw new SimulatedCrash();
        },
      },
    };
    expect((await env.deliverOnce(crash)).crashed).toBe(true);
    expect([...(await env.items(ref)).values()].filter((item) => item.name.startsWith("Renamed"))).toHaveLength(25);
    await env.drain(); // redelivered while the lease runs: skipped
    env.clock.advance(130_000);
    const now = env.clock.now();
    const log = createLogger({}, "silent");
    await runPlanner({ repos: env.repos, queue: env.queue, clock: env.clock, log }, { now, deadline: now + 60_000 });
    const [taken] = outcomes((await env.drain()).results);
    expect(taken).toMatchObject({ status: "completed", counts: { itemsUpdated: 26 } });

    const after = await follow(cursor, 3);
    expect(after.changes).toHaveLength(26);
    expect(new Set(after.changes.map((c) => c.externalId))).toEqual(new Set(base.slice(0, 26).map((u) => u.id)));
    expect(after.changes.every((c) => c.change === "updated" && c.name.startsWith("Renamed"))).toBe(true);
    // Only the job that committed is seen.
    expect(new Set(after.changes.map((c) => c.jobId))).toEqual(
      new Set([taken && "jobId" in taken ? taken.jobId : "?"]),
    );
  });

  it("is exact when the same job is redelivered after its worker died mid-sync", async () => {
    const base = syntheticSlackUsers(30, 10);
    const ref = await seedUsers(base, 5);
    await sync(ref);
    const { cursor } = await follow(undefined);
    servers.gateway.data.slackUsers = mutate(base);
    // The planner's message names its job; the redelivery resumes that same job once the lease has expired.
    env.clock.advance(2 * 86_400_000);
    const now = env.clock.now();
    const log = createLogger({}, "silent");
    await runPlanner({ repos: env.repos, queue: env.queue, clock: env.clock, log }, { now, deadline: now + 60_000 });
    const crash = {
      hooks: {
        afterPage: ({ page }: { page: number }) => {
          if (page === 3) throw new SimulatedCrash();
        },
      },
    };
    expect((await env.deliverOnce(crash)).crashed).toBe(true);
    env.clock.advance(130_000);
    const [resumed] = outcomes((await env.drain()).results);
    expect(resumed).toMatchObject({ status: "completed" });

    const after = await follow(cursor, 2);
    expect(after.changes).toHaveLength(4);
    expect(kinds(after.changes)).toEqual({
      [base[0]?.id as string]: "updated",
      [base[1]?.id as string]: "deleted",
      [base[2]?.id as string]: "deactivated",
      UNEWCOMER: "created",
    });
  });

  it("is exact across the continuations of a sync that spans invocations", async () => {
    const ref = await seedUsers(syntheticSlackUsers(600, 12), 50);
    env.clock.advance(60_000);
    await env.request(ref);
    const { invocations } = await env.drain({ pageBudget: 4 });
    expect(invocations).toBeGreaterThanOrEqual(3);

    const { changes } = await follow(undefined, 97);
    expect(changes).toHaveLength(600);
    expect(new Set(changes.map((c) => c.externalId)).size).toBe(600);
  });

  it("answers 410 CURSOR_EXPIRED for a cursor or a time older than the retention", async () => {
    const ref = await seedUsers(syntheticSlackUsers(5, 2));
    await sync(ref);
    const { cursor } = await follow(undefined);
    // Unlike a page cursor (24 h), a feed cursor lives as long as the changes are kept.
    env.clock.advance(2 * 86_400_000);
    expect((await follow(cursor)).changes).toEqual([]);
    env.clock.advance(29 * 86_400_000);
    await expect(follow(cursor)).rejects.toBeInstanceOf(GoneError);
    await expect(follow(new Date(env.clock.now() - 40 * 86_400_000).toISOString())).rejects.toMatchObject({
      status: 410,
      code: "CURSOR_EXPIRED",
    });
  });
});

describe("events", () => {
  it("publishes one Sync Completed per committed job, with the job's counts, and none for the crashed attempt", async () => {
    const base = syntheticSlackUsers(30, 9);
    const ref = await seedUsers(base, 5);
    await sync(ref);
    servers.gateway.data.slackUsers = mutate(base);
    env.clock.advance(60_000);
    await env.request(ref);
    const crash = {
      hooks: {
        afterPage: ({ page }: { page: number }) => {
          if (page === 1) throw new SimulatedCrash();
        },
      },
    };
    expect((await env.deliverOnce(crash)).crashed).toBe(true);
    env.clock.advance(130_000);
    await env.drain();

    const jobs = (await env.jobs(ref)).filter((job) => job.status === "completed");
    const completed = events.filter((e) => e["detail-type"] === "Sync Completed");
    expect(completed.map((e) => e.detail.jobId).sort()).toEqual(jobs.map((j) => j.jobId).sort());
    for (const job of jobs) {
      const event = completed.find((e) => e.detail.jobId === job.jobId);
      expect(event?.detail).toMatchObject({
        tenantId: TENANT,
        integrationId: "slack",
        connectionId: "default",
        dataType: "users",
        counts: {
          found: job.itemsFound,
          created: job.itemsCreated,
          updated: job.itemsUpdated,
          deactivated: job.itemsDeactivated,
          deleted: job.itemsDeleted - job.itemsDeactivated,
          failed: job.itemsFailed,
        },
      });
    }
    const second = completed.at(-1);
    expect(second?.detail.counts).toEqual({ found: 30, created: 1, updated: 1, deactivated: 1, deleted: 1, failed: 0 });
  });

  it("announces a commit again when the worker died between the partition's commit and its event", async () => {
    const base = syntheticSlackUsers(20, 6);
    const ref = await seedUsers(base, 10);
    await sync(ref);
    const { cursor } = await follow(undefined);
    servers.gateway.data.slackUsers = mutate(base);
    let dieOnce = true;
    const publish = publisher.publish;
    publisher.publish = async (batch) => {
      if (dieOnce) {
        dieOnce = false;
        throw new SimulatedCrash();
      }
      return publish(batch);
    };
    try {
      env.clock.advance(60_000);
      await env.request(ref);
      expect((await env.deliverOnce()).crashed).toBe(true);
      // The partition committed; the job did not finish and its event did not go out.
      expect(await env.partition(ref)).toMatchObject({ status: "idle", version: 2 });
      expect(events.filter((e) => e["detail-type"] === "Sync Completed")).toHaveLength(1);
      env.clock.advance(130_000);
      await env.drain();
    } finally {
      publisher.publish = publish;
    }
    // The next sync of the partition (the redelivered request) settles the dead job and announces it, then its own.
    const [next, job] = await env.jobs(ref);
    expect(job).toMatchObject({ status: "completed", itemsUpdated: 1 });
    expect(next).toMatchObject({ status: "completed", itemsUpdated: 0 });
    const sent = events.filter((e) => e["detail-type"] === "Sync Completed" && e.detail.jobId === job?.jobId);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.detail.counts).toEqual({
      found: 20,
      created: 1,
      updated: 1,
      deactivated: 1,
      deleted: 1,
      failed: 0,
    });
    expect(kinds((await follow(cursor)).changes)).toEqual({
      [base[0]?.id as string]: "updated",
      [base[1]?.id as string]: "deleted",
      [base[2]?.id as string]: "deactivated",
      UNEWCOMER: "created",
    });
  });

  it("publishes Sync Failed, with the job's error, when the gateway keeps failing", async () => {
    const ref = await seedUsers(syntheticSlackUsers(5, 3));
    const failure = { status: 500, code: "INTERNAL_ERROR", message: "upstream broke" };
    servers.gateway.failNext(failure, failure, failure, failure, failure, failure);
    await sync(ref);
    const [job] = await env.jobs(ref);
    expect(job).toMatchObject({ status: "failed" });
    const failed = events.filter((e) => e["detail-type"] === "Sync Failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]?.detail).toMatchObject({ jobId: job?.jobId, error: { code: job?.error?.code } });
    expect(events.filter((e) => e["detail-type"] === "Sync Completed")).toEqual([]);
  });

  it("publishes Partition Paused when the connection's credentials are gone", async () => {
    const ref = await seedUsers(syntheticSlackUsers(5, 1));
    await env.repos.connections.revoke(TENANT, "slack", "default", env.clock.now());
    await sync(ref);
    const paused = events.filter((e) => e["detail-type"] === "Partition Paused");
    expect(paused).toHaveLength(1);
    expect(paused[0]?.detail).toMatchObject({ tenantId: TENANT, dataType: "users", pauseReason: "revoked" });
    expect(events.filter((e) => e["detail-type"] === "Sync Completed")).toEqual([]);
  });
});
