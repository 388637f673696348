/**
 * Concurrency (issue 7): everything at once on real protocols. Twenty copies of one on-demand request for a partition
 * sit on the queue when two planners run at the same time over every due partition, each planner message is
 * delivered twice (SQS is at-least-once), and four worker invocations drain the queue concurrently while the planners
 * are still sending. Every partition is synced exactly once: one job, one pass over the upstream, counts not doubled.
 * (The sync engine's own tests cover each of these alone and in sequence: test/integration/sync/recovery.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultDatasets, SAMPLE_SOURCES, syntheticSlackUsers } from "../../../infra/local/sample-gateway/index.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import type { SourceInput } from "../../../shared/domain/source-config.js";
import type { SyncMessage } from "../../../shared/domain/sync-message.js";
import { runPlanner } from "../../../shared/sync/plan.js";
import type { SyncQueue } from "../../../shared/sync/sync-queue.js";
import { upstreamItems, wholeResponse } from "../../support/reliability/upstream.js";
import { freshWorld, type Servers, startServers } from "../../support/sync-harness.js";

const TENANT = "t-race";
const CONNECTIONS = Array.from({ length: 10 }, (_, i) => `conn-${i}`);
const USERS = 40;
const PAGE_SIZE = 5;

function sampleSource(dataType: "users" | "channels"): SourceInput {
  const sample = SAMPLE_SOURCES.find((s) => s.integrationId === "slack" && s.dataType === dataType);
  if (!sample) throw new Error(`no sample source slack/${dataType}`);
  const referenceData =
    dataType === "users"
      ? { ...sample.referenceData, pagination: { ...sample.referenceData.pagination, pageSize: PAGE_SIZE } }
      : sample.referenceData;
  return { integrationSlug: sample.integrationSlug, actionSlug: sample.actionSlug, referenceData } as SourceInput;
}

let servers: Servers;
beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});

describe("duplicates, two planners and concurrent workers at once", () => {
  it("sync each partition exactly once, with counts that are not doubled", async () => {
    const world = await freshWorld(servers, { engine: { writeBufferItems: 25 } });
    world.gateway.data = { ...defaultDatasets(), slackUsers: syntheticSlackUsers(USERS, 5) };
    const sources = [sampleSource("users"), sampleSource("channels")];
    const refs = await world.seed({ tenantId: TENANT, integrationId: "slack", sources, connections: CONNECTIONS });
    expect(refs).toHaveLength(CONNECTIONS.length * 2);
    const hot: PartitionRef = { tenantId: TENANT, integrationId: "slack", connectionId: "conn-0", dataType: "users" };

    // Another service asks twenty times for the same on-demand sync.
    const request: SyncMessage = { v: 1, kind: "sync", ...hot, trigger: "event" };
    await world.sendRaw(Array.from({ length: 20 }, () => JSON.stringify(request)));
    // The syncs start after those requests were sent (SentTimestamp is wall-clock time).
    world.clock.advanceTo(Date.now() + 1_000);
    const callsBefore = world.gateway.calls.length;

    const twice: SyncQueue = {
      async send(messages, options) {
        const first = await world.queue.send(messages, options);
        const second = await world.queue.send(messages, options);
        return {
          failed: [...first.failed, ...second.failed],
          sendBatchCalls: first.sendBatchCalls + second.sendBatchCalls,
        };
      },
    };
    const now = world.clock.now();
    const planner = () =>
      runPlanner(
        { repos: world.repos, queue: twice, clock: world.clock, log: world.log },
        { now, deadline: now + 60_000 },
      );
    const [a, b, racing] = await Promise.all([planner(), planner(), world.drain({ concurrency: 4, batchSize: 5 })]);
    const rest = await world.drain({ concurrency: 4, batchSize: 5 });

    // Two planners never claim one partition twice; the hot one may have been claimed by a request first.
    expect(a.claimed + b.claimed).toBeGreaterThanOrEqual(refs.length - 1);
    expect(a.claimed + b.claimed).toBeLessThanOrEqual(refs.length);
    const results = [...racing.results, ...rest.results];
    expect(results.filter((r) => r.status === "retry" || r.status === "dead_lettered")).toEqual([]);
    expect(await world.takeDeadLetters()).toEqual([]);

    const jobs = await world.jobs(TENANT, "slack");
    expect(jobs).toHaveLength(refs.length);
    const callsByPartition = new Map<string, number>();
    for (const call of world.gateway.calls.slice(callsBefore)) {
      const key = `${call.connectionId}/${call.actionSlug}`;
      callsByPartition.set(key, (callsByPartition.get(key) ?? 0) + 1);
    }
    for (const ref of refs) {
      const where = `${ref.connectionId}/${ref.dataType}`;
      const source = sources.find((s) => s.referenceData.dataType === ref.dataType) as SourceInput;
      const upstream = upstreamItems(
        source.referenceData,
        wholeResponse("slack", source.actionSlug, world.gateway.data),
      );
      const partition = await world.partition(ref);
      const own = jobs.filter((job) => job.connectionId === ref.connectionId && job.dataType === ref.dataType);
      expect(own, where).toHaveLength(1);
      expect(own[0], where).toMatchObject({
        status: "completed",
        invocations: 1,
        itemsFound: upstream.size,
        itemsCreated: upstream.size,
        itemsUpdated: 0,
        itemsDuplicate: 0,
      });
      expect(partition, where).toMatchObject({ status: "idle", version: 1, lastJobId: own[0]?.jobId });
      expect(partition.itemCount, where).toBe([...upstream.values()].filter((e) => e.status === "active").length);
      expect((await world.items(ref)).length, where).toBe(upstream.size);
    }
    // One pass over the upstream per partition: the hot partition made as many calls as any other of its kind.
    const usersCalls = CONNECTIONS.map((c) => callsByPartition.get(`${c}/${sampleSource("users").actionSlug}`));
    expect(new Set(usersCalls)).toEqual(new Set([USERS / PAGE_SIZE]));
    const channelCalls = CONNECTIONS.map((c) => callsByPartition.get(`${c}/${sampleSource("channels").actionSlug}`));
    expect(new Set(channelCalls).size).toBe(1);
    // Every message was answered (twenty requests, each planner message twice), and only one per partition synced.
    expect(results).toHaveLength(20 + 2 * (a.enqueued + b.enqueued));
    const completed = results.filter((r) => r.status === "synced" && r.outcome.status === "completed");
    expect(completed).toHaveLength(refs.length);
  });
});
