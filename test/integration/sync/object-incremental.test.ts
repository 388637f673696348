/**
 * Object syncs (a HubSpot CRM schema over 400 KB), incremental syncs (`since` = start of the last sync minus the skew,
 * no soft deletes, a full sync every fullSyncEverySeconds) and the suspicious-drop guard.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { defaultDatasets } from "../../../infra/local/sample-gateway/index.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { createEnv, type Env, outcomes, type Servers, startServers } from "../../support/sync-harness.js";

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
  servers.gateway.data = defaultDatasets();
  servers.gateway.calls.length = 0;
});

async function sync(ref: PartitionRef, extra = {}) {
  await env.request(ref, extra);
  const [outcome] = outcomes((await env.drain()).results);
  if (!outcome) throw new Error("no sync ran");
  return outcome;
}

describe("object sync", () => {
  it("stores a response above 400 KB whole, and keeps the version when it has not changed", async () => {
    const [schema] = (await env.seed({ integrationId: "hubspot" })) as [PartitionRef];
    expect(JSON.stringify(servers.gateway.data.crmSchema).length).toBeGreaterThan(400 * 1024);

    const first = await sync(schema);

    expect(first).toMatchObject({ status: "completed", counts: { itemsFound: 1, itemsCreated: 1 } });
    let partition = await env.partition(schema);
    expect(partition).toMatchObject({ status: "idle", version: 1, syncType: "object", itemCount: 1 });
    const stored = await env.repos.objects.read(schema, 1, partition.objectChunks, partition.lastSyncedAt ?? "");
    expect(stored?.object).toEqual(servers.gateway.data.crmSchema);

    env.clock.advance(60_000);
    expect(await sync(schema)).toMatchObject({ counts: { itemsUpdated: 0, itemsCreated: 0 } });
    expect((await env.partition(schema)).version).toBe(1);

    servers.gateway.data.crmSchema = { ...servers.gateway.data.crmSchema, portalId: 42 };
    env.clock.advance(60_000);
    expect(await sync(schema)).toMatchObject({ counts: { itemsUpdated: 1 } });
    partition = await env.partition(schema);
    expect(partition.version).toBe(2);
    const updated = await env.repos.objects.read(schema, 2, partition.objectChunks, partition.lastSyncedAt ?? "");
    expect(updated?.object).toMatchObject({ portalId: 42 });
    // The old version is removed once the partition points at the new one.
    expect(await env.repos.objects.read(schema, 1, 1, "").catch(() => undefined)).toBeUndefined();
  });
});

describe("incremental sync", () => {
  const incremental = { incremental: { sinceParam: "updated_since", fullSyncEverySeconds: 3600 } };

  it("asks for changes since the start of the last sync minus 5 minutes and soft-deletes nothing", async () => {
    const [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], override: incremental })) as [
      PartitionRef,
    ];
    const full = await sync(users);
    expect(full).toMatchObject({ status: "completed", counts: { itemsCreated: 12 } });
    const [firstJob] = await env.jobs(users);
    expect(firstJob?.mode).toBe("full");

    env.clock.advance(10 * 60_000);
    const data = servers.gateway.data.slackUsers;
    const lena = data.find((u) => u.id === "U07LENAM");
    if (!lena) throw new Error("no Lena");
    lena.profile.title = "Staff Engineer";
    lena.updated = Math.floor(env.clock.now() / 1000);
    // Removed upstream: an incremental sync cannot tell, so it must not deactivate anything.
    servers.gateway.data.slackUsers = data.filter((u) => u.id !== "U10ZOEWI");
    servers.gateway.calls.length = 0;

    const delta = await sync(users);

    expect(delta).toMatchObject({
      status: "completed",
      counts: { itemsFound: 1, itemsUpdated: 1, itemsCreated: 0, itemsDeleted: 0 },
    });
    const since = Date.parse(firstJob?.startedAt ?? "") - 5 * 60_000;
    expect(servers.gateway.calls[0]?.input.updated_since).toBe(new Date(since).toISOString());
    const items = await env.items(users);
    expect(items.get("U10ZOEWI")?.status).toBe("active");
    expect(items.get("U07LENAM")?.metadata["profile.title"]).toBe("Staff Engineer");
    expect((await env.jobs(users))[0]?.mode).toBe("incremental");
    const partition = await env.partition(users);
    expect(partition.itemCount).toBe(11);
    // The committed manifest still knows every user.
    expect((await env.repos.manifests.read(users, partition.version, partition.manifestChunks)).size).toBe(12);
  });

  it("runs a full sync, with soft deletes, once fullSyncEverySeconds has passed", async () => {
    const [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], override: incremental })) as [
      PartitionRef,
    ];
    await sync(users);
    servers.gateway.data.slackUsers = servers.gateway.data.slackUsers.filter((u) => u.id !== "U10ZOEWI");
    env.clock.advance(2 * 3_600_000);
    servers.gateway.calls.length = 0;

    const outcome = await sync(users);

    expect(outcome).toMatchObject({ counts: { itemsFound: 11, itemsDeleted: 1 } });
    expect(servers.gateway.calls[0]?.input).not.toHaveProperty("updated_since");
    expect((await env.jobs(users))[0]?.mode).toBe("full");
    expect((await env.items(users)).get("U10ZOEWI")?.status).toBe("inactive");
  });
});

describe("suspicious drop guard", () => {
  async function seedAndDrop() {
    const [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"] })) as [PartitionRef];
    await sync(users);
    // An upstream answering with 4 of 12 users: 7 of the 11 active ones would vanish.
    servers.gateway.data.slackUsers = servers.gateway.data.slackUsers.slice(0, 4);
    env.clock.advance(60_000);
    return users;
  }

  it("skips the soft deletes and warns, then applies them when a later sync confirms the same drop", async () => {
    const users = await seedAndDrop();

    const warned = await sync(users);

    expect(warned).toMatchObject({ status: "completed", counts: { itemsDeleted: 0 } });
    expect(warned.status === "completed" && warned.warnings[0]).toMatch(/Suspicious drop: 7 of 11 active items/);
    expect([...(await env.items(users)).values()].filter((i) => i.status === "active")).toHaveLength(11);
    expect((await env.partition(users)).itemCount).toBe(11);

    env.clock.advance(60_000);
    const confirmed = await sync(users);

    expect(confirmed).toMatchObject({ status: "completed", counts: { itemsDeleted: 7 }, warnings: [] });
    expect([...(await env.items(users)).values()].filter((i) => i.status === "active")).toHaveLength(4);
  });

  it("does not count a different drop as confirmation", async () => {
    const users = await seedAndDrop();
    await sync(users);
    servers.gateway.data.slackUsers = defaultDatasets().slackUsers.slice(1, 5);
    env.clock.advance(60_000);

    const other = await sync(users);

    expect(other).toMatchObject({ counts: { itemsDeleted: 0 } });
    expect(other.status === "completed" && other.warnings).toHaveLength(1);
  });

  it("applies the drop at once when the sync is forced", async () => {
    const users = await seedAndDrop();
    const forced = await sync(users, { force: true });
    expect(forced).toMatchObject({ status: "completed", counts: { itemsDeleted: 7 }, warnings: [] });
  });
});
