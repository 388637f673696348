/**
 * Crash and redelivery, property-based (issue 7). The sync engine's own tests (test/integration/sync/recovery.test.ts)
 * cover one crash at one page; this goes wider: random upstream data before and after, one to three crashes at random
 * points of one sync (after a page, right after a gateway call returned, or at any of the worker's own DynamoDB writes,
 * before it is sent or after it landed), with and without checkpoints in between (each page costs clock time, so long
 * syncs continue in new invocations), and three ways back: SQS redelivers the message, the message is lost and the
 * planner takes over when the lease expires, or both race.
 * Whatever happened, the pipeline converges on the state of one clean run in another table: same items, same
 * committed manifest (what the next sync diffs against) and version, same job counts and warnings, and every other job
 * settled as failed.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAMPLE_SOURCES, type SlackUser } from "../../../infra/local/sample-gateway/index.js";
import type { Job } from "../../../shared/domain/entities.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import type { SourceInput } from "../../../shared/domain/source-config.js";
import type { GatewayClient } from "../../../shared/gateway/client.js";
import { SimulatedCrash, type SyncHooks } from "../../../shared/sync/run-sync.js";
import {
  type DrainOptions,
  freshWorld,
  itemState,
  manifestState,
  type Servers,
  startServers,
  type World,
} from "../../support/sync-harness.js";

const TENANT = "t-crash";
const PAGE_SIZE = 8;
const slackUsers = SAMPLE_SOURCES.find((s) => s.integrationId === "slack" && s.dataType === "users");
if (!slackUsers) throw new Error("the sample gateway has no Slack users source");
const SOURCE = {
  integrationSlug: slackUsers.integrationSlug,
  actionSlug: slackUsers.actionSlug,
  referenceData: {
    ...slackUsers.referenceData,
    pagination: { ...slackUsers.referenceData.pagination, pageSize: PAGE_SIZE },
  },
} as SourceInput;

const NAMES = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Sarah Chen", "Sarah Connor", "Zoë Wu", "José Álvarez"];

const userArb = fc.record({
  n: fc.integer({ min: 1, max: 80 }),
  name: fc.constantFrom(...NAMES),
  title: fc.constantFrom("Engineer", "Ops", "Sales"),
  deleted: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});
type UserSpec = typeof userArb extends fc.Arbitrary<infer T> ? T : never;

function slackUser(spec: UserSpec): SlackUser {
  const id = `U${String(spec.n).padStart(8, "0")}`;
  const handle = `${spec.name.split(" ")[0]?.toLowerCase()}${spec.n}`;
  return {
    id,
    team_id: "T0SAMPLE01",
    name: handle,
    deleted: spec.deleted,
    is_bot: false,
    is_admin: false,
    updated: 1_735_689_600,
    profile: { real_name: spec.name, display_name: handle, email: `${handle}@crash.example`, title: spec.title },
  };
}

type Path = "redeliver" | "lose" | "both";

interface Scenario {
  before: UserSpec[];
  after: UserSpec[];
  /** After a page; right after a gateway call returned; or at one of the worker's own DynamoDB writes. */
  kill: "afterPage" | "gatewayCall" | "write";
  /** Whether a write kill strikes before the write is sent, or after it landed but before the worker saw it. */
  when: "before" | "after";
  /**
   * Where the worker dies during the second sync, in order: pages (afterPage), or 1-based numbers of gateway calls or
   * of the worker's writes (every write of every invocation: leases, jobs, items, checkpoints, manifests...).
   */
  crashes: number[];
  path: Path;
  /** Clock time each page costs: with 10 s, an invocation checkpoints and continues every few pages. */
  pageMs: 0 | 10_000;
}

let servers: Servers;
beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});

interface Outcome {
  items: ReturnType<typeof itemState>;
  manifest: Record<string, string>;
  version: number;
  itemCount: number;
  counts: Pick<Job, "itemsFound" | "itemsCreated" | "itemsUpdated" | "itemsDeleted" | "itemsFailed" | "itemsDuplicate">;
  warnings: number;
}

async function outcome(world: World, ref: PartitionRef): Promise<Outcome> {
  const partition = await world.partition(ref);
  expect(partition.status).toBe("idle");
  const job = await world.repos.jobs.get(ref.tenantId, ref.integrationId, partition.lastJobId ?? "");
  expect(job?.status).toBe("completed");
  return {
    items: itemState(await world.items(ref)),
    manifest: manifestState(await world.manifest(ref)),
    version: partition.version,
    itemCount: partition.itemCount,
    counts: {
      itemsFound: job?.itemsFound ?? -1,
      itemsCreated: job?.itemsCreated ?? -1,
      itemsUpdated: job?.itemsUpdated ?? -1,
      itemsDeleted: job?.itemsDeleted ?? -1,
      itemsFailed: job?.itemsFailed ?? -1,
      itemsDuplicate: job?.itemsDuplicate ?? -1,
    },
    warnings: job?.warnings.length ?? -1,
  };
}

/**
 * Plans and drains until the partition is idle again, bringing it back through the due index when it is stuck.
 * Returns how many times a sync checkpointed and continued in a new invocation.
 */
async function syncToRest(world: World, ref: PartitionRef, options: DrainOptions = {}): Promise<number> {
  const partition = await world.partition(ref);
  world.clock.advanceTo(Date.parse(partition.nextSyncAt) + 1_000);
  let continued = 0;
  for (let attempt = 0; attempt < 12; attempt++) {
    await world.plan();
    const { results } = await world.drain(options);
    continued += results.filter((r) => r.status === "synced" && r.outcome.status === "continued").length;
    const now = await world.partition(ref);
    if (now.status === "idle") return continued;
    // A lost message or a dead worker: the partition comes due again at its requeue deadline or lease expiry.
    world.clock.advanceTo(Date.parse(now.deadlineAt ?? now.nextSyncAt) + 1_000);
  }
  throw new Error(`partition did not come to rest: ${JSON.stringify(await world.partition(ref))}`);
}

const WRITE_COMMAND = /^(Put|Update|Delete|BatchWrite)(Item)?Command$/;

/** A worker that dies at the scripted points, keeping what the dead invocation wrote. */
function killer(
  world: World,
  scenario: Scenario,
): { hooks: SyncHooks; gateway: GatewayClient | undefined; killed: () => number; stop: () => void } {
  const pending = [...scenario.crashes];
  let calls = 0;
  let writes = 0;
  const killed = () => scenario.crashes.length - pending.length;
  const doc = world.workerDoc;
  if (scenario.kill === "write") {
    if (!doc) throw new Error("write kills need the worker's own DynamoDB client");
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        if (!WRITE_COMMAND.test(String(context.commandName))) return next(args);
        writes++;
        const strike = pending[0] === writes;
        if (strike) pending.shift();
        if (strike && scenario.when === "before") throw new SimulatedCrash(`killed before write ${writes}`);
        const result = await next(args);
        if (strike) throw new SimulatedCrash(`killed after write ${writes} (${String(context.commandName)})`);
        return result;
      },
      { step: "initialize", name: "killAtWrite" },
    );
  }
  const stop = () => doc?.middlewareStack.remove("killAtWrite");
  const hooks: SyncHooks = {
    afterPage: ({ page }) => {
      world.clock.advance(scenario.pageMs);
      if (scenario.kill === "afterPage" && pending[0] === page) {
        pending.shift();
        throw new SimulatedCrash(`killed after page ${page}`);
      }
    },
  };
  const gateway: GatewayClient | undefined =
    scenario.kill === "gatewayCall"
      ? {
          async invoke(request) {
            const response = await world.gatewayClient.invoke(request);
            calls++;
            if (pending[0] === calls) {
              pending.shift();
              throw new SimulatedCrash(`killed after gateway call ${calls}`);
            }
            return response;
          },
        }
      : undefined;
  return { hooks, gateway, killed, stop };
}

/** An initial clean sync, then the sync under test (killed or not); returns its outcome. */
async function run(
  scenario: Scenario,
  crash: boolean,
): Promise<{ second: Outcome; jobs: Job[]; kills: number; continued: number }> {
  // A one-minute invocation with a 30 s margin: at 10 s a page, a sync checkpoints and continues every 3 pages.
  const world = await freshWorld(servers, {
    budgetMs: 60_000,
    engine: { writeBufferItems: 25 },
    dedicatedWorkerClient: true,
  });
  const [ref] = await world.seed({ tenantId: TENANT, integrationId: "slack", sources: [SOURCE] });
  if (!ref) throw new Error("no partition");
  world.gateway.data.slackUsers = scenario.before.map(slackUser);
  await syncToRest(world, ref);

  world.gateway.data.slackUsers = scenario.after.map(slackUser);
  const pacing: SyncHooks = { afterPage: () => world.clock.advance(scenario.pageMs) };
  let kills = 0;
  let continued: number;
  if (crash) {
    const { hooks, gateway, killed, stop } = killer(world, scenario);
    const options: DrainOptions = {
      hooks,
      ...(gateway ? { gateway } : {}),
      afterCrash: scenario.path === "lose" ? "lose" : "redeliver",
      ...(scenario.path === "both"
        ? {
            onCrash: async () => {
              await world.plan();
            },
          }
        : {}),
    };
    try {
      continued = await syncToRest(world, ref, options);
    } finally {
      stop();
    }
    kills = killed();
  } else {
    continued = await syncToRest(world, ref, { hooks: pacing });
  }
  const second = await outcome(world, ref);
  const jobs = await world.jobs(TENANT, "slack");
  world.dispose();
  return { second, jobs, kills, continued };
}

describe("a worker killed mid-sync", () => {
  it("converges on the state and counts of one clean run, whatever the data, crash points and way back", async () => {
    const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
      before: fc.array(userArb, { maxLength: 32, size: "large" }),
      // Two to six pages, so most crash points fall inside the sync.
      after: fc.array(userArb, { minLength: 12, maxLength: 40, size: "large" }),
      kill: fc.constantFrom("afterPage" as const, "gatewayCall" as const, "write" as const),
      when: fc.constantFrom("before" as const, "after" as const),
      crashes: fc.array(fc.integer({ min: 0, max: 24 }), { minLength: 1, maxLength: 3 }),
      path: fc.constantFrom<Path>("redeliver", "lose", "both"),
      pageMs: fc.constantFrom<0 | 10_000>(0, 10_000),
    });
    let crashed = 0;
    let continuedAfterCrash = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (raw) => {
        // Pages are 0-6; calls and writes are numbered from 1 and only a growing sequence can all be reached.
        const crashes =
          raw.kill === "afterPage"
            ? raw.crashes.map((c) => c % 7)
            : [...new Set(raw.crashes.map((c) => c + 1))].sort((a, b) => a - b);
        const scenario = { ...raw, crashes };
        const clean = await run(scenario, false);
        const killed = await run(scenario, true);

        expect(killed.second).toEqual(clean.second);
        // Every job the crashes left behind was settled: none pending or syncing forever.
        for (const job of killed.jobs) expect(["completed", "failed"]).toContain(job.status);
        expect(killed.jobs.filter((job) => job.status === "completed")).toHaveLength(2);
        crashed += killed.kills;
        if (killed.kills > 0) continuedAfterCrash += killed.continued;
      }),
      { numRuns: 10, seed: 7_007, endOnFailure: true },
    );
    // Not vacuous: workers really were killed, some of them in syncs that also checkpointed and continued.
    expect(crashed).toBeGreaterThan(0);
    expect(continuedAfterCrash).toBeGreaterThan(0);
  });

  it("leaves no job syncing after dying between the partition's commit and the job's completion, message lost", async () => {
    // Found by the property above with more runs (kill: write, after the partition's success write, path: lose).
    const world = await freshWorld(servers, { dedicatedWorkerClient: true });
    const [ref] = await world.seed({ tenantId: TENANT, integrationId: "slack", sources: [SOURCE] });
    if (!ref) throw new Error("no partition");
    world.gateway.data.slackUsers = Array.from({ length: 10 }, (_, n) =>
      slackUser({ n: n + 1, name: "Ada Lovelace", title: "Ops", deleted: false }),
    );
    const doc = world.workerDoc;
    if (!doc) throw new Error("no worker client");
    let struck = false;
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        // The partition's success write: an update of its PART# row that sets lastJobStatus "completed".
        const input = JSON.stringify(args.input);
        const committing =
          /^Update(Item)?Command$/.test(String(context.commandName)) &&
          /"SK":(\{"S":)?"PART#/.test(input) &&
          input.includes('"completed"');
        if (committing && !struck) {
          struck = true;
          throw new SimulatedCrash("killed right after the partition recorded its success");
        }
        return result;
      },
      { step: "initialize", name: "killAfterCommit" },
    );
    try {
      await syncToRest(world, ref, { afterCrash: "lose" });
    } finally {
      doc.middlewareStack.remove("killAfterCommit");
    }
    expect(struck).toBe(true);
    // The data is committed; the next scheduled sync runs as usual.
    await syncToRest(world, ref);

    const jobs = await world.jobs(TENANT, "slack");

    expect(jobs).toHaveLength(2);
    expect(jobs.map((job) => job.status)).toEqual(["completed", "completed"]);
    world.dispose();
  });
});
