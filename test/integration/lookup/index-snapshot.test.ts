/**
 * Index snapshots end to end: a real list sync (worker over fauxqs, dynalite and the sample gateway) writes the
 * partition's lookup index at commit, and a cold query container's first lookup reads that snapshot's chunks instead
 * of the items. Requests are counted by an SDK middleware on the query side's own DocumentClient.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { sourceInputSchema } from "../../../shared/domain/source-config.js";
import { buildLookupIndex } from "../../../shared/lookup/index.js";
import { lookup } from "../../../shared/lookup/ranking.js";
import { snapshotSettingsKey } from "../../../shared/lookup/snapshot.js";
import { coldContainer } from "../../support/index-snapshot.js";
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
let users: PartitionRef;

beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});
beforeEach(async () => {
  env = await createEnv(servers);
  [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], override: slackCursorPages(5) })) as [
    PartitionRef,
  ];
});

async function sync() {
  await env.request(users);
  const [outcome] = outcomes((await env.drain()).results);
  expect(outcome?.status).toBe("completed");
}

const ORIGINAL = ["profile.real_name", "name", "profile.email"];
const REORDERED = ["profile.email", "name", "profile.real_name"];

async function changeLookupFields(lookupFields: string[]) {
  const source = await env.repos.sources.get(users.tenantId, users.integrationId, users.dataType);
  if (!source) throw new Error("no source");
  const input = sourceInputSchema.parse({
    integrationSlug: source.integrationSlug,
    actionSlug: source.actionSlug,
    referenceData: { ...source.referenceData, lookupFields },
  });
  await env.repos.sources.put(users.tenantId, users.integrationId, users.dataType, input, env.clock.now());
}

/** What an index built from the stored items with these lookup fields answers. */
async function fromItems(query: string, fields: string[]) {
  const index = buildLookupIndex(await env.repos.items.listSummaries(users), { fields });
  return lookup(index, query, { limit: 5 }).matches;
}

describe("lookup index snapshots", () => {
  it("a cold container's first lookup after a sync reads the snapshot's chunks, not the item pages", async () => {
    await sync();
    const container = coldContainer(env, users);

    const result = await container.ask("Derek Osgood");

    expect(result.matches[0]).toMatchObject({ id: "U01DEREK", matchType: "exact" });
    expect(result.matches).toEqual(await fromItems("Derek Osgood", ORIGINAL));
    expect(container.readSnapshot()).toBe(true);
    expect(container.readItems()).toBe(false);
  });

  it("falls back to the items when the partition has no snapshot (committed before snapshots existed)", async () => {
    await sync();
    await env.repos.indexSnapshots.deleteOlderThan(users, Number.MAX_SAFE_INTEGER);
    const container = coldContainer(env, users);

    const result = await container.ask("sarah.chen@acme.example");

    expect(result.matches[0]).toMatchObject({ id: "U02SCHEN", matchType: "exact" });
    expect(container.readItems()).toBe(true);
  });

  it("never serves a snapshot built with other lookup fields, and the next sync rewrites it for the new ones", async () => {
    await sync();
    const warm = coldContainer(env, users);
    expect((await warm.ask("Derek Os")).matches).toEqual(await fromItems("Derek Os", ORIGINAL));
    await changeLookupFields(REORDERED);
    // A warm container's cached index of the same version is not reused for the new fields either.
    expect((await warm.ask("Derek Os")).matches).toEqual(await fromItems("Derek Os", REORDERED));
    // Same values, other priority: the name is no longer the first field, so a prefix match on it weighs less than
    // the version's snapshot (built with the old order) would say.
    const stale = coldContainer(env, users);
    const afterChange = await stale.ask("Derek Os");
    expect(afterChange.matches).toEqual(await fromItems("Derek Os", REORDERED));
    expect(afterChange.matches).not.toEqual(await fromItems("Derek Os", ORIGINAL));
    expect(stale.readItems()).toBe(true);

    await sync(); // unchanged items: the version stays, its snapshot is rebuilt for the new settings
    const { version } = await env.partition(users);
    expect(version).toBe(1);
    expect((await env.repos.indexSnapshots.stampOf(users, version))?.settingsKey).toBe(
      snapshotSettingsKey({ fields: REORDERED }),
    );
    const fresh = coldContainer(env, users);
    const resynced = await fresh.ask("Derek Os");
    expect(resynced.matches).toEqual(await fromItems("Derek Os", REORDERED));
    expect(resynced.matches[0]).toMatchObject({ id: "U01DEREK", matchType: "prefix" });
    expect(fresh.readSnapshot()).toBe(true);
    expect(fresh.readItems()).toBe(false);
  });

  it("an unchanged resync keeps the version's snapshot, and it is still the one served", async () => {
    await sync();
    const before = await env.partition(users);
    await sync();
    const after = await env.partition(users);
    expect(after.version).toBe(before.version);
    expect(after.lastJobId).not.toBe(before.lastJobId);
    expect(after.snapshotId).toBe(before.snapshotId);
    const container = coldContainer(env, users);

    const result = await container.ask("Derek Osgood");

    expect(result.matches).toEqual(await fromItems("Derek Osgood", ORIGINAL));
    expect(container.readSnapshot()).toBe(true);
    expect(container.readItems()).toBe(false);
  });

  it("keeps the snapshots of the current and the previous version only", async () => {
    await sync();
    servers.gateway.data.slackUsers = servers.gateway.data.slackUsers.map((u) =>
      u.id === "U01DEREK"
        ? { ...u, real_name: "Derek O. Osgood", profile: { ...u.profile, real_name: "Derek O. Osgood" } }
        : u,
    );
    await sync();
    servers.gateway.data.slackUsers = servers.gateway.data.slackUsers.map((u) =>
      u.id === "U02SCHEN" ? { ...u, profile: { ...u.profile, real_name: "Sarah C. Chen" } } : u,
    );
    await sync();
    const { version } = await env.partition(users);
    expect(version).toBe(3);
    expect(await env.repos.indexSnapshots.read(users, 3)).toBeDefined();
    expect(await env.repos.indexSnapshots.read(users, 2)).toBeDefined();
    expect(await env.repos.indexSnapshots.read(users, 1)).toBeUndefined();
  });
});
