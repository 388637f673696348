/**
 * Fault injection (issue 7): the sample gateway fails 20% of calls at random — 500, 503, 429 with Retry-After,
 * timeouts and truncated JSON — with a fixed seed, while the upstream data changes between rounds. After every round:
 * each sync either completed with exactly the upstream data, or failed having deactivated nothing and written only
 * upstream-current versions; no partition is left queued or syncing, and every one comes back through the due index
 * (the next planner run claims all of them). Time moves on the manual clock only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_SAMPLE_GATEWAY_TOKEN,
  defaultDatasets,
  type FaultKind,
  SAMPLE_SOURCES,
  type SampleDatasets,
  syntheticSlackUsers,
} from "../../../infra/local/sample-gateway/index.js";
import type { Item, Job } from "../../../shared/domain/entities.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import type { SourceInput } from "../../../shared/domain/source-config.js";
import { canonicalJson } from "../../../shared/extraction/extract.js";
import { createGatewayClient } from "../../../shared/gateway/client.js";
import { upstreamItems, wholeResponse } from "../../support/reliability/upstream.js";
import {
  freshWorld,
  type ReliabilityServers,
  startReliabilityServers,
  type World,
} from "../../support/reliability/world.js";

const TENANT = "t-faults";
const FAULT_SEED = 20_260_301;
const FAULT_KINDS: FaultKind[] = ["500", "503", "429", "timeout", "truncated"];
const FAULT_ROUNDS = 6;

/** The sample sources with small pages, so one sync is many gateway calls (and many chances to fail). */
function sources(): { integrationId: string; source: SourceInput }[] {
  const pageSizes: Record<string, Record<string, unknown>> = {
    "slack/users": { pageSize: 12 },
    "slack/channels": { pageSize: 3 },
    "github/repositories": { pageSize: 4 },
  };
  return SAMPLE_SOURCES.map((sample) => {
    const override = pageSizes[`${sample.integrationId}/${sample.dataType}`];
    const referenceData = {
      ...sample.referenceData,
      ...(override && sample.referenceData.pagination
        ? { pagination: { ...sample.referenceData.pagination, ...override } }
        : {}),
      ...(sample.integrationId === "microsoft" ? { request: { $top: 3 } } : {}),
    };
    return {
      integrationId: sample.integrationId,
      source: { integrationSlug: sample.integrationSlug, actionSlug: sample.actionSlug, referenceData } as SourceInput,
    };
  });
}

/** Deterministic upstream changes between rounds: renames, additions, removals, deletions, object edits. */
function mutate(data: SampleDatasets, round: number): void {
  const users = data.slackUsers;
  // A block of renames larger than one write batch, so a sync that fails late has written some of them.
  for (let i = 0; i < 30; i++) {
    const user = users[(round * 30 + i) % users.length];
    if (user) user.profile.real_name = `${user.profile.real_name.split(" r")[0]} r${round}`;
  }
  users.push({
    id: `UR${String(round).padStart(7, "0")}`,
    team_id: "T0SAMPLE01",
    name: `round${round}`,
    deleted: false,
    is_bot: false,
    is_admin: false,
    updated: 1_735_689_600 + round,
    profile: { real_name: `Round ${round} Hire`, display_name: `round${round}` },
  });
  if (round >= 2) data.slackUsers = users.filter((user) => user.id !== `UR${String(round - 2).padStart(7, "0")}`);
  const leaver = data.slackUsers[(round * 5) % data.slackUsers.length];
  if (leaver) leaver.deleted = !leaver.deleted;
  const channel = data.slackChannels[round % data.slackChannels.length];
  if (channel) channel.topic = { value: `topic of round ${round}` };
  data.githubRepos.push({
    id: 600_000_000 + round,
    name: `repo-${round}`,
    full_name: `acme/repo-${round}`,
    private: false,
    default_branch: "main",
    description: null,
  });
  const graphUser = data.graphUsers[round % data.graphUsers.length];
  if (graphUser) graphUser.jobTitle = `Title ${round}`;
  data.crmSchema = { ...data.crmSchema, revision: round };
}

interface Tracked {
  ref: PartitionRef;
  source: SourceInput;
}

interface Snapshot {
  lastJobId: string | undefined;
  version: number;
  items: Map<string, Item>;
}

let servers: ReliabilityServers;
beforeAll(async () => {
  servers = await startReliabilityServers({ faults: { rate: 0, seed: FAULT_SEED } });
});
afterAll(async () => {
  await servers.stop();
});

async function snapshot(world: World, tracked: Tracked[]): Promise<Map<string, Snapshot>> {
  const snapshots = new Map<string, Snapshot>();
  for (const { ref } of tracked) {
    const partition = await world.partition(ref);
    const items = new Map((await world.items(ref)).map((item) => [item.externalId, item]));
    snapshots.set(refKey(ref), { lastJobId: partition.lastJobId, version: partition.version, items });
  }
  return snapshots;
}

const refKey = (ref: PartitionRef) => `${ref.integrationId}/${ref.dataType}`;

/** Every invariant of one round, for every partition; returns the outcome of each partition's job. */
async function checkRound(
  world: World,
  tracked: Tracked[],
  before: Map<string, Snapshot>,
): Promise<{ outcomes: Record<string, Job["status"]>; writtenByFailed: number }> {
  const outcomes: Record<string, Job["status"]> = {};
  let writtenByFailed = 0;
  for (const { ref, source } of tracked) {
    const where = `${refKey(ref)}`;
    const partition = await world.partition(ref);
    const previous = before.get(refKey(ref));
    // Settled and schedulable: never left queued or syncing, always back in the due index.
    expect(["idle", "failed"], where).toContain(partition.status);
    expect(await world.dueKey(ref), where).toMatch(/^\d{4}-\d\d-\d\dT.*#/);
    expect(partition.lastJobId, where).toBeDefined();
    expect(partition.lastJobId, `${where}: one job ran this round`).not.toBe(previous?.lastJobId);
    const job = await world.repos.jobs.get(ref.tenantId, ref.integrationId, partition.lastJobId ?? "");
    expect(job?.status, where).toBe(partition.lastJobStatus);
    expect(["completed", "failed"], where).toContain(job?.status);
    outcomes[where] = job?.status ?? "pending";
    if (job?.status === "failed") expect(job.error?.code, where).toEqual(expect.any(String));

    const response = wholeResponse(source.integrationSlug, source.actionSlug, world.gateway.data);
    if (source.referenceData.syncType === "object") {
      if (job?.status === "completed") {
        const stored = await world.repos.objects.read(ref, partition.version, partition.objectChunks, "x");
        expect(canonicalJson(stored?.object), where).toBe(canonicalJson(response));
      } else {
        expect(partition.version, `${where}: a failed object sync keeps the committed version`).toBe(previous?.version);
      }
      continue;
    }

    const upstream = upstreamItems(source.referenceData, response);
    const stored = await world.items(ref);
    if (job?.status === "completed") {
      // Exactly the upstream: every upstream record current, everything else no longer active.
      for (const [id, entry] of upstream) {
        const item = stored.find((candidate) => candidate.externalId === id);
        expect(item?.contentHash, `${where} ${id}`).toBe(entry.hash);
        expect(item?.status, `${where} ${id}`).toBe(entry.status);
      }
      for (const item of stored.filter((candidate) => !upstream.has(candidate.externalId))) {
        expect(item.status, `${where} ${item.externalId} vanished upstream`).not.toBe("active");
      }
      expect(job.itemsFound, where).toBe(upstream.size);
      expect(partition.itemCount, where).toBe([...upstream.values()].filter((e) => e.status === "active").length);
    } else {
      // Failed: nothing deactivated; any row that changed holds the upstream-current version.
      for (const item of stored) {
        const old = previous?.items.get(item.externalId);
        const changed =
          !old || old.contentHash !== item.contentHash || old.status !== item.status || old.jobId !== item.jobId;
        if (old?.status === "active") {
          expect(item.status, `${where} ${item.externalId} deactivated by a failed sync`).not.toBe("inactive");
        }
        if (changed) {
          writtenByFailed++;
          const entry = upstream.get(item.externalId);
          expect(entry, `${where} ${item.externalId} written but not upstream`).toBeDefined();
          expect(item.contentHash, `${where} ${item.externalId} not the upstream version`).toBe(entry?.hash);
          expect(item.status, `${where} ${item.externalId}`).toBe(entry?.status);
        }
      }
      expect(stored.length, `${where}: a failed sync removes no row`).toBeGreaterThanOrEqual(previous?.items.size ?? 0);
    }
  }
  return { outcomes, writtenByFailed };
}

describe("syncs under 20% random gateway faults (fixed seed)", () => {
  it("complete with exactly the upstream data or fail without damage, and never leave a partition stuck", async () => {
    const world = await freshWorld(servers, {
      requestTimeoutMs: 300,
      gatewayAttempts: 1,
      seed: 11,
      // Changed items go out in whole batches of 25 as they accumulate, so a failed sync may have written some.
      engine: { writeBufferItems: 25 },
    });
    // Even rounds: every fault reaches the sync engine (no client retry). Odd rounds: the client retries inside the
    // budget first, as in production.
    const retrying = createGatewayClient({
      baseUrl: world.gateway.url,
      token: async () => DEFAULT_SAMPLE_GATEWAY_TOKEN,
      clock: world.clock,
      sleep: async (ms) => world.clock.advance(ms),
      requestTimeoutMs: 300,
      maxAttempts: 3,
    });
    const data = defaultDatasets();
    data.slackUsers.push(...syntheticSlackUsers(60, 3));
    world.gateway.data = data;
    const tracked: Tracked[] = [];
    for (const { integrationId, source } of sources()) {
      const [ref] = await world.seed({ tenantId: TENANT, integrationId, sources: [source] });
      if (ref) tracked.push({ ref, source });
    }
    expect(tracked).toHaveLength(SAMPLE_SOURCES.length);
    const callsBefore = world.gateway.calls.length;
    world.gateway.setFaults({ rate: 0.2, seed: FAULT_SEED, kinds: FAULT_KINDS, timeoutMs: 3_000, retryAfterMs: 1_000 });

    const seen: Job["status"][] = [];
    let writtenByFailed = 0;
    try {
      for (let round = 0; round < FAULT_ROUNDS; round++) {
        if (round > 0) mutate(world.gateway.data, round);
        const before = await snapshot(world, tracked);
        const planned = await world.plan();
        // Every partition came back through the due index, whatever happened to it last round.
        expect(planned.claimed, `round ${round}`).toBe(tracked.length);
        await world.drain(round % 2 === 0 ? {} : { gateway: retrying });
        const checked = await checkRound(world, tracked, before);
        seen.push(...Object.values(checked.outcomes));
        writtenByFailed += checked.writtenByFailed;
        await advancePastNextSync(world, tracked);
      }
    } finally {
      world.gateway.setFaults(undefined);
    }

    // The seed produced both outcomes and every kind of fault; otherwise this test proves little.
    expect(seen).toContain("completed");
    expect(seen).toContain("failed");
    expect(writtenByFailed, "failed syncs that had written some pages").toBeGreaterThan(0);
    const statuses = new Set(world.gateway.calls.slice(callsBefore).map((call) => call.status));
    for (const status of [500, 503, 429, 504]) expect(statuses).toContain(status);

    // Once the faults stop, one more round converges everything on the upstream.
    mutate(world.gateway.data, FAULT_ROUNDS);
    const before = await snapshot(world, tracked);
    expect((await world.plan()).claimed).toBe(tracked.length);
    const patient = createGatewayClient({
      baseUrl: world.gateway.url,
      token: async () => DEFAULT_SAMPLE_GATEWAY_TOKEN,
      clock: world.clock,
      sleep: async (ms) => world.clock.advance(ms),
      requestTimeoutMs: 10_000,
    });
    await world.drain({ gateway: patient });
    const { outcomes } = await checkRound(world, tracked, before);
    expect(Object.values(outcomes)).toEqual(tracked.map(() => "completed"));
  });
});

/** Moves the clock past every partition's next sync (failed ones retry after their backoff), so all are due. */
async function advancePastNextSync(world: World, tracked: Tracked[]): Promise<void> {
  let latest = world.clock.now();
  for (const { ref } of tracked) latest = Math.max(latest, Date.parse((await world.partition(ref)).nextSyncAt));
  world.clock.advanceTo(latest + 1_000);
}
