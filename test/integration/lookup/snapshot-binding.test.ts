/**
 * A committed version is served from, and built on, only the index snapshot its own commit wrote. Version numbers are
 * reused (an attempt that crashed before its flip wrote a snapshot under the number the next sync commits), and a
 * worker that lost its lease may still be writing: a snapshot under the committed version's key written by anyone
 * else must be neither served to a cold query container nor the base of the next version's incremental snapshot.
 * Real syncs (worker over fauxqs, dynalite and the sample gateway); failures injected by wrapping the repositories.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { SlackUser } from "../../../infra/local/sample-gateway/datasets.js";
import { syntheticSlackUsers } from "../../../infra/local/sample-gateway/index.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { buildLookupIndex } from "../../../shared/lookup/index.js";
import { lookup } from "../../../shared/lookup/ranking.js";
import { decodeSnapshotContent } from "../../../shared/lookup/snapshot.js";
import { LEASE_MS } from "../../../shared/sync/durations.js";
import { SimulatedCrash } from "../../../shared/sync/engine.js";
import { coldContainer, comparable, fullRebuild } from "../../support/index-snapshot.js";
import {
  createEnv,
  type Env,
  outcomes,
  type Servers,
  slackCursorPages,
  startServers,
} from "../../support/sync-harness.js";

const LOOKUP_FIELDS = ["profile.real_name", "name", "profile.email"];

let servers: Servers;
let env: Env;
let users: PartitionRef;

beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});
beforeEach(async () => {
  env = await createEnv(servers);
  // 100 users: a sync changing a few of them builds its snapshot on the previous version's.
  servers.gateway.data.slackUsers = syntheticSlackUsers(100, 3);
  [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], override: slackCursorPages(25) })) as [
    PartitionRef,
  ];
});

/** Renames the upstream user at position `at`. */
function rename(at: number, name: string): SlackUser {
  const list = [...servers.gateway.data.slackUsers];
  const user = list[at]!;
  list[at] = { ...user, real_name: name, profile: { ...user.profile, real_name: name } };
  servers.gateway.data.slackUsers = list;
  return list[at]!;
}

async function sync() {
  await env.request(users);
  const [outcome] = outcomes((await env.drain()).results);
  expect(outcome?.status).toBe("completed");
}

/** What an index built from the stored items answers. */
async function fromItems(query: string) {
  const index = buildLookupIndex(await env.repos.items.listSummaries(users), { fields: LOOKUP_FIELDS });
  return lookup(index, query, { limit: 5 }).matches;
}

/** The committed version's snapshot is exactly what a full rebuild from the stored items gives. */
async function expectSnapshotOfFullRebuild() {
  const { version } = await env.partition(users);
  const snapshot = await env.repos.indexSnapshots.read(users, version);
  const written = decodeSnapshotContent(snapshot?.bytes ?? new Uint8Array());
  const expected = fullRebuild(await env.repos.items.listSummaries(users), LOOKUP_FIELDS);
  expect(comparable(written)).toEqual(comparable(expected));
}

const throttled = () =>
  Object.assign(new Error("Rate of requests exceeds the allowed throughput"), {
    name: "ThrottlingException",
  });

describe("a version's snapshot is the one its commit wrote", () => {
  it("an attempt's snapshot left under a reused version number is neither served nor built on", async () => {
    await sync();
    // Attempt A writes the snapshot of version 2, then dies before the version flips.
    rename(0, "Alpha Attempt");
    const flip = vi.spyOn(env.repos.partitions, "recordSuccess").mockRejectedValueOnce(new SimulatedCrash());
    await env.request(users);
    expect((await env.deliverOnce()).crashed).toBe(true);
    flip.mockRestore();
    expect(await env.repos.indexSnapshots.read(users, 2)).toBeDefined();

    // Upstream moves on. Sync C commits version 2 too, but its own snapshot build is throttled, and so is the
    // clean-up that would remove A's snapshot.
    const renamed = rename(0, "Zephyrine Quasar");
    rename(1, "Bartholomew Kestrel");
    env.clock.advance(LEASE_MS + 10_000);
    const failures = [
      vi.spyOn(env.repos.items, "getMany").mockRejectedValue(throttled()),
      vi.spyOn(env.repos.items, "listSummaries").mockRejectedValue(throttled()),
      vi.spyOn(env.repos.indexSnapshots, "delete").mockRejectedValue(throttled()),
    ];
    const { results } = await env.drain();
    for (const failure of failures) failure.mockRestore();
    expect(outcomes(results)[0]?.status).toBe("completed");
    const committed = await env.partition(users);
    expect(committed).toMatchObject({ version: 2, lastJobStatus: "completed" });
    expect(committed.snapshotId).toBeUndefined();

    const cold = coldContainer(env, users);
    const answer = await cold.ask("Zephyrine Quasar");
    expect(answer.matches[0]).toMatchObject({ id: renamed.id, matchType: "exact" });
    expect(answer.matches).toEqual(await fromItems("Zephyrine Quasar"));
    expect((await cold.ask("Bartholomew Kestrel")).matches).toEqual(await fromItems("Bartholomew Kestrel"));

    // The next version's snapshot is not built on A's.
    rename(2, "Delphine Marlowe");
    await sync();
    await expectSnapshotOfFullRebuild();
    const next = coldContainer(env, users);
    expect((await next.ask("Zephyrine Quasar")).matches).toEqual(await fromItems("Zephyrine Quasar"));
    expect(next.readSnapshot()).toBe(true);
    expect(next.readItems()).toBe(false);
  });

  it("a worker that lost its lease during a slow build neither replaces nor removes the snapshot of the one that took over", async () => {
    await sync();
    rename(0, "Alpha Stalled");
    const read = env.repos.indexSnapshots.read.bind(env.repos.indexSnapshots);
    let tookOver = false;
    let winner: SlackUser | undefined;
    vi.spyOn(env.repos.indexSnapshots, "read").mockImplementation(async (...args) => {
      if (!tookOver) {
        tookOver = true;
        // Worker A's build stalls past its lease; worker B syncs the partition and commits version 2 meanwhile.
        env.clock.advance(LEASE_MS + 10_000);
        rename(0, "Bravo Overtaker");
        winner = rename(1, "Bravissima Second");
        await env.request(users);
        const [b] = outcomes((await env.deliverOnce()).results);
        expect(b?.status).toBe("completed");
      }
      return read(...args);
    });
    await env.request(users);
    const [a] = outcomes((await env.drain()).results);
    vi.mocked(env.repos.indexSnapshots.read).mockRestore();
    expect(tookOver).toBe(true);
    expect(a).toMatchObject({ status: "skipped", reason: "lease lost" });
    expect(await env.partition(users)).toMatchObject({ version: 2, lastJobStatus: "completed" });

    const cold = coldContainer(env, users);
    const answer = await cold.ask("Bravissima Second");
    expect(answer.matches[0]).toMatchObject({ id: winner?.id, matchType: "exact" });
    expect(answer.matches).toEqual(await fromItems("Bravissima Second"));
    expect(cold.readSnapshot()).toBe(true);
    expect(cold.readItems()).toBe(false);

    // B's snapshot stays the base of the next version.
    const readsEveryItem = vi.spyOn(env.repos.items, "listSummaries");
    rename(2, "Charlotte Wexley");
    await sync();
    expect(readsEveryItem).not.toHaveBeenCalled();
    readsEveryItem.mockRestore();
    await expectSnapshotOfFullRebuild();
  });

  it("a snapshot written over the committed one after its commit (a lease lost mid-write) is neither served nor built on", async () => {
    await sync();
    const earlier = await env.repos.indexSnapshots.read(users, 1);
    if (!earlier) throw new Error("version 1 has no snapshot");
    const renamed = rename(0, "Echo Renamed");
    await sync();
    expect((await env.partition(users)).version).toBe(2);
    // A writer whose lease ran out only after it last checked puts other content under version 2.
    await env.repos.indexSnapshots.write(users, 2, earlier.bytes, earlier.settingsKey);

    const cold = coldContainer(env, users);
    const answer = await cold.ask("Echo Renamed");
    expect(answer.matches[0]).toMatchObject({ id: renamed.id, matchType: "exact" });
    expect(answer.matches).toEqual(await fromItems("Echo Renamed"));
    expect(cold.readItems()).toBe(true);

    rename(1, "Foxtrot Tangier");
    await sync();
    await expectSnapshotOfFullRebuild();
    expect((await coldContainer(env, users).ask("Echo Renamed")).matches).toEqual(await fromItems("Echo Renamed"));
  });
});
