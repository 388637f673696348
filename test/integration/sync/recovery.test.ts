/**
 * Crashes, redeliveries, duplicates and concurrent planners: whatever happens, every partition is synced once, nothing
 * stays stuck, and the final state and counts are those of a clean run.
 */
import { PurgeQueueCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { defaultDatasets, type SlackUser, syntheticSlackUsers } from "../../../infra/local/sample-gateway/index.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { createLogger } from "../../../shared/log.js";
import { LEASE_MS, REQUEUE_WINDOW_MS } from "../../../shared/sync/durations.js";
import { runPlanner } from "../../../shared/sync/plan.js";
import { SimulatedCrash } from "../../../shared/sync/run-sync.js";
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

const CURSOR = slackCursorPages;
const log = createLogger({}, "silent");
const HOUR = 3_600_000;

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

async function plan() {
  const now = env.clock.now();
  return runPlanner({ repos: env.repos, queue: env.queue, clock: env.clock, log }, { now, deadline: now + 60_000 });
}

async function requestAndDrain(ref: PartitionRef) {
  await env.request(ref);
  return env.drain();
}

/** What a reader sees: status, content and name of every item. */
async function snapshot(ref: PartitionRef) {
  const items = await env.items(ref);
  return Object.fromEntries([...items].map(([id, item]) => [id, [item.status, item.contentHash, item.name]]));
}

function changeUpstream() {
  const data = servers.gateway.data.slackUsers;
  const sarah = data.find((u) => u.id === "U02SCHEN") as SlackUser;
  sarah.profile.real_name = "Sarah Chen-Li";
  servers.gateway.data.slackUsers = data.filter((u) => u.id !== "U06MIKEO");
  servers.gateway.data.slackUsers.push({
    ...sarah,
    id: "U13NEWBIE",
    name: "newbie",
    profile: { real_name: "Nina Newbie", display_name: "newbie" },
  });
}

const crashAfterPage = (crashPage: number) => ({
  hooks: {
    afterPage: ({ page }: { page: number }) => {
      if (page === crashPage) throw new SimulatedCrash();
    },
  },
});

describe("crash mid-sync", () => {
  it("resumes the same job on redelivery after the lease expired, with the state and counts of a clean run", async () => {
    const [clean] = (await env.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      tenantId: "clean",
      override: CURSOR(5),
    })) as [PartitionRef];
    const [crashed] = (await env.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      tenantId: "crashy",
      override: CURSOR(5),
    })) as [PartitionRef];
    await requestAndDrain(clean);
    await requestAndDrain(crashed);
    changeUpstream();
    env.clock.advance(2 * HOUR);

    // Both partitions are due: the planner enqueues them with their jobs.
    expect(await plan()).toMatchObject({ claimed: 2, enqueued: 2 });
    // The clean one runs first (one message at a time), the crashy one dies after page 1.
    const cleanRun = await env.deliverOnce({}, 1);
    const cleanOutcome = outcomes(cleanRun.results)[0];
    const dying = await env.deliverOnce(crashAfterPage(1), 1);
    expect(dying.crashed).toBe(true);
    // The message comes back once its visibility timeout is over, which is longer than the lease.
    env.clock.advance(LEASE_MS + 10_000);
    const { results } = await env.drain();
    const [recovered] = outcomes(results);

    expect(cleanOutcome).toMatchObject({ status: "completed" });
    expect(recovered).toMatchObject({ status: "completed" });
    if (cleanOutcome?.status !== "completed" || recovered?.status !== "completed") return;
    expect(recovered.counts).toEqual(cleanOutcome.counts);
    expect(recovered.counts).toMatchObject({ itemsFound: 12, itemsCreated: 1, itemsUpdated: 1, itemsDeleted: 1 });
    expect(await snapshot(crashed)).toEqual(await snapshot(clean));
    const [cleanPartition, crashedPartition] = [await env.partition(clean), await env.partition(crashed)];
    expect(crashedPartition).toMatchObject({
      status: "idle",
      version: cleanPartition.version,
      itemCount: cleanPartition.itemCount,
    });
    const [job] = await env.jobs(crashed);
    expect(job).toMatchObject({ status: "completed", invocations: 2, itemsDeleted: 1 });
  });

  it("is taken over by the planner when the worker died holding the lease of a jobless request", async () => {
    const [clean] = (await env.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      tenantId: "clean",
      override: CURSOR(5),
    })) as [PartitionRef];
    const [crashed] = (await env.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      tenantId: "crashy",
      override: CURSOR(5),
    })) as [PartitionRef];
    await requestAndDrain(clean);
    await requestAndDrain(crashed);
    changeUpstream();
    env.clock.advance(60_000);
    const cleanOutcome = outcomes((await requestAndDrain(clean)).results)[0];

    await env.request(crashed);
    expect((await env.deliverOnce(crashAfterPage(0))).crashed).toBe(true);
    // Redelivered while the dead worker's lease still runs: another job is "on it", so the message is dropped...
    const redelivered = outcomes((await env.drain()).results);
    expect(redelivered).toEqual([expect.objectContaining({ status: "skipped" })]);
    expect(await env.partition(crashed)).toMatchObject({ status: "syncing" });
    // ...and the due index brings the partition back when the lease expires.
    env.clock.advance(LEASE_MS + 10_000);
    expect(await plan()).toMatchObject({ claimed: 1, takenOver: 1, enqueued: 1 });
    const [recovered] = outcomes((await env.drain()).results);

    expect(recovered).toMatchObject({ status: "completed" });
    if (cleanOutcome?.status !== "completed" || recovered?.status !== "completed") throw new Error("not completed");
    expect(recovered.counts).toEqual(cleanOutcome.counts);
    expect(await snapshot(crashed)).toEqual(await snapshot(clean));
    const [newest, dead] = await env.jobs(crashed);
    expect(newest).toMatchObject({ status: "completed", trigger: "schedule" });
    expect(dead).toMatchObject({ status: "failed", error: { code: "LEASE_EXPIRED" } });
  });

  it("deactivates rows a dead sync created for items that vanished before the take-over", async () => {
    env = await createEnv(servers, { writeBufferItems: 25 });
    const base = syntheticSlackUsers(70, 3);
    const [existing, fresh] = [base.slice(30), base.slice(0, 30)];
    servers.gateway.data.slackUsers = existing;
    const [ref] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], override: CURSOR(30) })) as [
      PartitionRef,
    ];
    await requestAndDrain(ref);
    // 30 new users arrive on page 0; the worker writes 25 of them and dies.
    servers.gateway.data.slackUsers = [...fresh, ...existing];
    await env.request(ref);
    expect((await env.deliverOnce(crashAfterPage(0))).crashed).toBe(true);
    expect((await env.items(ref)).size).toBe(65);
    await env.drain();
    // Before anyone recovers, those new users are gone again.
    servers.gateway.data.slackUsers = existing;
    env.clock.advance(LEASE_MS + 10_000);
    expect(await plan()).toMatchObject({ takenOver: 1 });

    const [outcome] = outcomes((await env.drain()).results);

    expect(outcome).toMatchObject({
      status: "completed",
      counts: { itemsFound: 40, itemsCreated: 0, itemsUpdated: 0, itemsDeleted: 0 },
    });
    const items = await env.items(ref);
    const orphans = fresh.map((u) => items.get(u.id)).filter((item) => item !== undefined);
    expect(orphans).toHaveLength(25);
    expect(orphans.every((item) => item.status === "inactive")).toBe(true);
    expect((await env.partition(ref)).itemCount).toBe(40);
  });
});

describe("duplicates", () => {
  it("runs a duplicate delivery of one planner message once", async () => {
    const [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], override: CURSOR(5) })) as [
      PartitionRef,
    ];
    await plan();
    const sent = env.queue.sends.flatMap((s) => s.messages);
    expect(sent).toHaveLength(1);
    // SQS delivers at least once: the same message arrives twice.
    await env.queue.send(sent);

    const { results } = await env.drain();

    const statuses = outcomes(results).map((o) => o.status);
    expect(statuses.sort()).toEqual(["completed", "skipped"]);
    expect(await env.jobs(users)).toHaveLength(1);
    expect(servers.gateway.calls).toHaveLength(3);
  });

  it("runs twenty copies of one on-demand request as one sync", async () => {
    const [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], override: CURSOR(5) })) as [
      PartitionRef,
    ];
    for (let i = 0; i < 20; i++) await env.request(users);

    const { results } = await env.drain();

    const synced = outcomes(results);
    expect(synced).toHaveLength(20);
    expect(synced.filter((o) => o.status === "completed")).toHaveLength(1);
    expect(synced.filter((o) => o.status === "skipped")).toHaveLength(19);
    expect(await env.jobs(users)).toHaveLength(1);
    expect(servers.gateway.calls).toHaveLength(3);
  });
});

describe("planner", () => {
  it("enqueues each due partition exactly once when two planners run at the same time", async () => {
    const connections = Array.from({ length: 40 }, (_, i) => `conn-${i}`);
    const refs = await env.seed({ integrationId: "slack", dataTypes: ["users"], connections });
    const now = env.clock.now();
    const deps = { repos: env.repos, queue: env.queue, clock: env.clock, log };

    const [a, b] = await Promise.all([
      runPlanner(deps, { now, deadline: now + 60_000 }),
      runPlanner(deps, { now, deadline: now + 60_000 }),
    ]);

    expect(a.claimed + b.claimed).toBe(40);
    expect(a.enqueued + b.enqueued).toBe(40);
    const messages = env.queue.sends.flatMap((s) => s.messages);
    expect(new Set(messages.map((m) => ("connectionId" in m ? m.connectionId : undefined))).size).toBe(40);
    expect(messages).toHaveLength(40);
    const jobs = await env.repos.jobs.list(refs[0]?.tenantId ?? "", "slack", { limit: 100 });
    expect(jobs.items).toHaveLength(40);
    expect(jobs.items.every((job) => job.status === "pending" && job.trigger === "schedule")).toBe(true);
  });

  it("resumes a job from its checkpoint when its continuation message was lost", async () => {
    const [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], override: CURSOR(5) })) as [
      PartitionRef,
    ];
    await env.request(users);
    const first = await env.deliverOnce({ pageBudget: 1 });
    expect(outcomes(first.results)[0]).toMatchObject({ status: "continued", page: 1 });
    await servers.sqs.sqs.send(new PurgeQueueCommand({ QueueUrl: env.queueUrl }));
    expect(await env.partition(users)).toMatchObject({ status: "queued" });

    env.clock.advance(REQUEUE_WINDOW_MS + 60_000);
    expect(await plan()).toMatchObject({ claimed: 1, resumed: 1 });
    const [outcome] = outcomes((await env.drain()).results);

    expect(outcome).toMatchObject({ status: "completed", counts: { itemsFound: 12, itemsCreated: 12 } });
    const jobs = await env.jobs(users);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ status: "completed", invocations: 2, pages: 3 });
    expect((await env.items(users)).size).toBe(12);
  });

  it("lets SQS redeliver a planner message after a storage error, and the job completes", async () => {
    const [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], override: CURSOR(5) })) as [
      PartitionRef,
    ];
    await plan();
    let failures = 1;
    const doc = servers.dynamo.doc;
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        if (/^BatchWrite(Item)?Command$/.test(String(context.commandName)) && failures-- > 0) {
          throw Object.assign(new Error("throttled"), { name: "ProvisionedThroughputExceededException" });
        }
        return next(args);
      },
      { step: "initialize", name: "injectThrottle" },
    );
    try {
      const { results } = await env.drain();
      expect(results.map((r) => r.status)).toEqual(["retry", "synced"]);
      expect(outcomes(results)[0]).toMatchObject({ status: "completed", counts: { itemsCreated: 12 } });
      expect(await env.jobs(users)).toEqual([expect.objectContaining({ status: "completed", invocations: 2 })]);
    } finally {
      doc.middlewareStack.remove("injectThrottle");
    }
  });
});
