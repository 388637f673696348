/**
 * Fault injection (issue 7): the sample gateway fails 20% of calls at random — 500, 503, 429 with Retry-After,
 * timeouts and truncated JSON — with a fixed seed, while the upstream data changes between rounds; now and then the
 * worker itself dies after a page and its message is lost. After every round: each sync either completed with
 * exactly the upstream data, or failed (or died) having deactivated nothing, committed nothing and written only
 * upstream-current versions; and no partition is stuck: every one is back in the due index (a dead worker's at its
 * lease expiry), and the next planner run claims all of them. Time moves on the manual clock only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  defaultDatasets,
  type FaultKind,
  mulberry32,
  SAMPLE_SOURCES,
  type SampleDatasets,
  sampleGatewayKey,
  syntheticSlackUsers,
} from "../../../infra/local/sample-gateway/index.js";
import type { Item, Job } from "../../../shared/domain/entities.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import type { SourceInput } from "../../../shared/domain/source-config.js";
import { canonicalJson } from "../../../shared/extraction/extract.js";
import { createGatewayClient } from "../../../shared/gateway/client.js";
import { SimulatedCrash, type SyncHooks } from "../../../shared/sync/run-sync.js";
import { upstreamItems, wholeResponse } from "../../support/reliability/upstream.js";
import { freshWorld, type Servers, startServers, type World } from "../../support/sync-harness.js";

const TENANT = "t-faults";
const FAULT_SEED = 20_260_301;
const FAULT_KINDS: FaultKind[] = ["500", "503", "429", "timeout", "truncated"];
const FAULT_ROUNDS = 6;
const KILL_SEED = 77;
/**
 * A short gateway timeout, but long enough that only injected hangs reach it, even on a loaded machine: then the
 * sequence of calls, and so every fault drawn, is the same on every run.
 */
const CLIENT_TIMEOUT_MS = 1_000;
/** How long an injected "timeout" fault hangs before answering 504 (the client gives up first). */
const HANG_MS = 1_500;
/** Chance that the worker dies after any one page. */
const KILL_RATE = 0.06;

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
  // Every user renamed: each page brings changes, so a sync that fails after a few pages has written some of them.
  for (const user of users) user.profile.real_name = `${user.profile.real_name.split(" r")[0]} r${round}`;
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

let servers: Servers;
beforeAll(async () => {
  servers = await startServers({ faults: { rate: 0, seed: FAULT_SEED } });
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

/** How a partition's sync of one round ended: with its job, or with its worker killed and its message lost. */
type Outcome = "completed" | "failed" | "killed" | "lost";

/** Every invariant of one round, for every partition; returns how each partition's sync ended. */
async function checkRound(
  world: World,
  tracked: Tracked[],
  before: Map<string, Snapshot>,
): Promise<{ outcomes: Record<string, Outcome>; writtenByFailed: number }> {
  const outcomes: Record<string, Outcome> = {};
  let writtenByFailed = 0;
  for (const { ref, source } of tracked) {
    const where = `${refKey(ref)}`;
    const partition = await world.partition(ref);
    const previous = before.get(refKey(ref));
    // Always schedulable: an idle or failed partition at its next sync, a dead worker's at its lease expiry, a lost
    // message's at its requeue deadline. The next round's planner must claim every one of them.
    expect(await world.dueKey(ref), where).toMatch(/^\d{4}-\d\d-\d\dT.*#/);
    let outcome: Outcome;
    let job: Job | undefined;
    if (partition.status === "syncing" || partition.status === "queued") {
      expect(partition.deadlineAt, where).toBeDefined();
      expect(Date.parse(partition.deadlineAt ?? "")).toBeLessThanOrEqual(world.clock.now() + 30 * 60_000);
      job = await world.repos.jobs.get(ref.tenantId, ref.integrationId, partition.currentJobId ?? "");
      outcome = partition.status === "syncing" ? "killed" : "lost";
      expect(["pending", "syncing"], where).toContain(job?.status ?? "pending");
      expect(partition.currentJobId, `${where}: a new job this round`).not.toBe(previous?.lastJobId);
    } else {
      expect(["idle", "failed"], where).toContain(partition.status);
      expect(partition.lastJobId, `${where}: one job ran this round`).not.toBe(previous?.lastJobId);
      job = await world.repos.jobs.get(ref.tenantId, ref.integrationId, partition.lastJobId ?? "");
      expect(job?.status, where).toBe(partition.lastJobStatus);
      expect(["completed", "failed"], where).toContain(job?.status);
      outcome = job?.status === "completed" ? "completed" : "failed";
      if (job?.status === "failed") expect(job.error?.code, where).toEqual(expect.any(String));
    }
    outcomes[where] = outcome;

    const response = wholeResponse(source.integrationSlug, source.actionSlug, world.gateway.data);
    if (source.referenceData.syncType === "object") {
      if (outcome === "completed") {
        const stored = await world.repos.objects.read(ref, partition.version, partition.objectChunks, "x");
        expect(canonicalJson(stored?.object), where).toBe(canonicalJson(response));
      } else {
        expect(partition.version, `${where}: an unfinished object sync keeps the committed version`).toBe(
          previous?.version,
        );
      }
      continue;
    }

    const upstream = upstreamItems(source.referenceData, response);
    const stored = await world.items(ref);
    if (outcome === "completed") {
      // Exactly the upstream: every upstream record current, everything else no longer active.
      for (const [id, entry] of upstream) {
        const item = stored.find((candidate) => candidate.externalId === id);
        expect(item?.contentHash, `${where} ${id}`).toBe(entry.hash);
        expect(item?.status, `${where} ${id}`).toBe(entry.status);
      }
      for (const item of stored.filter((candidate) => !upstream.has(candidate.externalId))) {
        expect(item.status, `${where} ${item.externalId} vanished upstream`).not.toBe("active");
      }
      expect(job?.itemsFound, where).toBe(upstream.size);
      expect(partition.itemCount, where).toBe([...upstream.values()].filter((e) => e.status === "active").length);
    } else {
      // Failed or killed: nothing deactivated; any row that changed holds the upstream-current version.
      expect(partition.version, `${where}: nothing committed`).toBe(previous?.version);
      for (const item of stored) {
        const old = previous?.items.get(item.externalId);
        const changed =
          !old || old.contentHash !== item.contentHash || old.status !== item.status || old.jobId !== item.jobId;
        if (old?.status === "active") {
          expect(item.status, `${where} ${item.externalId} deactivated by an unfinished sync`).not.toBe("inactive");
        }
        if (changed) {
          writtenByFailed++;
          const entry = upstream.get(item.externalId);
          expect(entry, `${where} ${item.externalId} written but not upstream`).toBeDefined();
          expect(item.contentHash, `${where} ${item.externalId} not the upstream version`).toBe(entry?.hash);
          // "active → deleted" is a status change only a completed full sync applies (the drop guard decides it).
          const expected = entry?.status === "deleted" && old?.status === "active" ? "active" : entry?.status;
          expect(item.status, `${where} ${item.externalId}`).toBe(expected);
        }
      }
      expect(stored.length, `${where}: an unfinished sync removes no row`).toBeGreaterThanOrEqual(
        previous?.items.size ?? 0,
      );
    }
  }
  return { outcomes, writtenByFailed };
}

describe("syncs under 20% random gateway faults (fixed seed)", () => {
  it("complete with exactly the upstream data or fail without damage, and never leave a partition stuck", async () => {
    const world = await freshWorld(servers, {
      requestTimeoutMs: CLIENT_TIMEOUT_MS,
      gatewayAttempts: 1,
      seed: 11,
      // Changed items go out in whole batches of 25 as they accumulate, so a failed sync may have written some.
      engine: { writeBufferItems: 25 },
    });
    // Even rounds: every fault reaches the sync engine (no client retry). Odd rounds: the client retries inside the
    // budget first, as in production.
    const retrying = createGatewayClient({
      baseUrl: world.gateway.url,
      apiKey: async (tenantId) => ({ apiKey: sampleGatewayKey(tenantId), version: "sample" }),
      clock: world.clock,
      sleep: async (ms) => world.clock.advance(ms),
      requestTimeoutMs: CLIENT_TIMEOUT_MS,
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
    world.gateway.setFaults({
      rate: 0.2,
      seed: FAULT_SEED,
      kinds: FAULT_KINDS,
      timeoutMs: HANG_MS,
      retryAfterMs: 1_000,
    });

    const seen: Outcome[] = [];
    let writtenByFailed = 0;
    // Now and then the worker dies after a page and its message is lost: only the due index can bring it back.
    const killRandom = mulberry32(KILL_SEED);
    const killer: SyncHooks = {
      afterPage: () => {
        if (killRandom() < KILL_RATE) throw new SimulatedCrash("worker killed mid-sync");
      },
    };
    try {
      for (let round = 0; round < FAULT_ROUNDS; round++) {
        // A job that checkpointed before its worker died is resumed where it stopped: the pages it read before are
        // not read again. Changing the upstream under it would make "exactly the upstream" a mix of two rounds, so the
        // upstream changes only when no such job is in flight.
        if (round > 0 && !(await resumableInFlight(world, tracked))) mutate(world.gateway.data, round);
        const before = await snapshot(world, tracked);
        const planned = await world.plan();
        // Every partition came back through the due index, whatever happened to it last round.
        expect(planned.claimed, `round ${round}`).toBe(tracked.length);
        await world.drain({
          batchSize: 1,
          hooks: killer,
          afterCrash: "lose",
          ...(round % 2 === 0 ? {} : { gateway: retrying }),
        });
        const checked = await checkRound(world, tracked, before);
        seen.push(...Object.values(checked.outcomes));
        writtenByFailed += checked.writtenByFailed;
        await advancePastDue(world, tracked);
      }
    } finally {
      world.gateway.setFaults(undefined);
    }

    // The seeds produced every outcome and every kind of fault; otherwise this test proves little.
    expect(seen).toContain("completed");
    expect(seen).toContain("failed");
    expect(seen).toContain("killed");
    expect(writtenByFailed, "failed syncs that had written some pages").toBeGreaterThan(0);
    const statuses = new Set(world.gateway.calls.slice(callsBefore).map((call) => call.status));
    for (const status of [500, 503, 429, 504]) expect(statuses).toContain(status);

    // Once the faults stop, one more round converges everything on the upstream.
    mutate(world.gateway.data, FAULT_ROUNDS);
    const before = await snapshot(world, tracked);
    expect((await world.plan()).claimed).toBe(tracked.length);
    const patient = createGatewayClient({
      baseUrl: world.gateway.url,
      apiKey: async (tenantId) => ({ apiKey: sampleGatewayKey(tenantId), version: "sample" }),
      clock: world.clock,
      sleep: async (ms) => world.clock.advance(ms),
      requestTimeoutMs: 10_000,
    });
    await world.drain({ gateway: patient });
    const { outcomes } = await checkRound(world, tracked, before);
    expect(Object.values(outcomes)).toEqual(tracked.map(() => "completed"));
    // No job is left pending or syncing: the planner failed every job whose worker died or whose message was lost.
    const integrations = [...new Set(tracked.map(({ ref }) => ref.integrationId))];
    const jobs = (await Promise.all(integrations.map((integrationId) => world.jobs(TENANT, integrationId)))).flat();
    for (const job of jobs) expect(["completed", "failed"], job.jobId).toContain(job.status);
    const abandoned = jobs.filter((job) => ["LEASE_EXPIRED", "NOT_PICKED_UP"].includes(job.error?.code ?? ""));
    // (A dead job with a checkpoint is resumed instead, so there may be fewer of these than deaths.)
    expect(abandoned.length).toBeGreaterThan(0);
    expect(abandoned.length).toBeLessThanOrEqual(seen.filter((o) => o === "killed" || o === "lost").length);
  });
});

/** Whether some partition's job is in flight with a checkpoint (the planner resumes it rather than starting over). */
async function resumableInFlight(world: World, tracked: Tracked[]): Promise<boolean> {
  for (const { ref } of tracked) {
    const partition = await world.partition(ref);
    if (partition.status !== "queued" && partition.status !== "syncing") continue;
    const job = await world.repos.jobs.get(ref.tenantId, ref.integrationId, partition.currentJobId ?? "");
    if (job?.checkpoint) return true;
  }
  return false;
}

/**
 * Moves the clock past the moment every partition is due again: the next sync of an idle one, the backoff of a failed
 * one, the lease expiry of one whose worker died, the requeue deadline of one whose message was lost.
 */
async function advancePastDue(world: World, tracked: Tracked[]): Promise<void> {
  let latest = world.clock.now();
  for (const { ref } of tracked) {
    const partition = await world.partition(ref);
    const inFlight = partition.status === "queued" || partition.status === "syncing";
    latest = Math.max(latest, Date.parse(inFlight ? (partition.deadlineAt ?? "") : partition.nextSyncAt));
  }
  world.clock.advanceTo(latest + 1_000);
}
