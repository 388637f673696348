/**
 * List syncs end to end: the worker service over fauxqs, dynalite and the sample gateway's Slack users (cursor pages of
 * five), through first sync, unchanged, changed, vanished, reappearing and deleted users.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SlackUser } from "../../../infra/local/sample-gateway/index.js";
import { itemContentOf } from "../../../shared/domain/entities.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { extractItems } from "../../../shared/extraction/extract.js";
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
  servers.gateway.data.slackUsers = (
    await import("../../../infra/local/sample-gateway/index.js")
  ).defaultDatasets().slackUsers;
  servers.gateway.calls.length = 0;
  [users] = (await env.seed({
    integrationId: "slack",
    dataTypes: ["users"],
    override: slackCursorPages(5),
  })) as [PartitionRef];
});

const slackUser = (id: string): SlackUser => {
  const user = servers.gateway.data.slackUsers.find((u) => u.id === id);
  if (!user) throw new Error(`no user ${id}`);
  return user;
};

async function sync(extra = {}) {
  await env.request(users, extra);
  const { results } = await env.drain();
  const [outcome] = outcomes(results);
  if (!outcome) throw new Error(`no sync ran: ${JSON.stringify(results)}`);
  return outcome;
}

describe("list sync", () => {
  it("stores every user on the first sync, marks deleted ones, and commits version 1", async () => {
    const before = env.clock.now();
    const outcome = await sync();

    expect(outcome).toMatchObject({
      status: "completed",
      counts: { itemsFound: 12, itemsCreated: 12, itemsUpdated: 0, itemsDeleted: 0, itemsFailed: 0 },
      itemWrites: 12,
    });
    const items = await env.items(users);
    expect(items.size).toBe(12);
    expect(items.get("U11TOMBE")?.status).toBe("deleted");
    expect(items.get("U01DEREK")).toMatchObject({
      name: "Derek Osgood",
      status: "active",
      change: "created",
      metadata: { "profile.email": "derek.osgood@acme.example", is_admin: true },
    });
    const partition = await env.partition(users);
    expect(partition).toMatchObject({ status: "idle", version: 1, itemCount: 11, consecutiveFailures: 0 });
    const nextSyncAt = Date.parse(partition.nextSyncAt);
    expect(nextSyncAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(nextSyncAt).toBeLessThanOrEqual(env.clock.now() + 3_600_000 * 1.1);
    expect(partition.currentJobId).toBeUndefined();
    const [job] = await env.jobs(users);
    expect(job).toMatchObject({ status: "completed", trigger: "manual", mode: "full", pages: 3, invocations: 1 });
    expect(job?.checkpoint).toBeUndefined();
    // Every page went out with the job's idempotency key.
    expect(servers.gateway.calls.map((c) => c.idempotencyKey)).toEqual([0, 1, 2].map((p) => `${job?.jobId}:${p}`));
    const manifest = await env.repos.manifests.read(users, 1, partition.manifestChunks);
    expect(manifest.get("U11TOMBE")).toEqual({ hash: items.get("U11TOMBE")?.contentHash, status: "deleted" });
  });

  it("stores each item's extracted content whole, with the content hash the extractor computed", async () => {
    await sync();
    const source = await env.repos.sources.get(users.tenantId, users.integrationId, users.dataType);
    if (!source) throw new Error("no source");
    const { items: extracted } = extractItems(source.referenceData, { members: [slackUser("U01DEREK")] });
    const stored = (await env.items(users)).get("U01DEREK");
    if (!stored || !extracted[0]) throw new Error("no item");
    const { deleted: _deleted, contentHash, ...content } = extracted[0];
    expect(itemContentOf(stored)).toEqual(content);
    expect(stored.contentHash).toBe(contentHash);
  });

  it("writes no item on an unchanged resync and keeps the committed version", async () => {
    const first = await sync();
    const firstJobId = first.status === "completed" ? first.jobId : "";
    env.clock.advance(60_000);

    const second = await sync();

    expect(second).toMatchObject({
      status: "completed",
      itemWrites: 0,
      counts: { itemsFound: 12, itemsCreated: 0, itemsUpdated: 0, itemsDeleted: 0 },
    });
    const items = await env.items(users);
    expect([...items.values()].every((item) => item.jobId === firstJobId)).toBe(true);
    const partition = await env.partition(users);
    expect(partition.version).toBe(1);
    expect(partition.lastJobId).toBe(second.status === "completed" ? second.jobId : "?");
  });

  it("writes only the changed and new users on a changed resync and moves to a new manifest version", async () => {
    await sync();
    slackUser("U02SCHEN").profile.real_name = "Sarah Chen-Li";
    servers.gateway.data.slackUsers.push({
      ...slackUser("U05PRIYA"),
      id: "U13NEWBIE",
      name: "newbie",
      profile: { real_name: "Nina Newbie", display_name: "newbie" },
    });
    env.clock.advance(60_000);

    const outcome = await sync();

    expect(outcome).toMatchObject({
      status: "completed",
      itemWrites: 2,
      counts: { itemsFound: 13, itemsCreated: 1, itemsUpdated: 1, itemsDeleted: 0 },
    });
    const items = await env.items(users);
    expect(items.get("U02SCHEN")).toMatchObject({ name: "Sarah Chen-Li", change: "updated" });
    expect(items.get("U13NEWBIE")).toMatchObject({ name: "Nina Newbie", change: "created", status: "active" });
    const partition = await env.partition(users);
    expect(partition).toMatchObject({ version: 2, itemCount: 12 });
    // The old manifest version is cleaned up; the new one is what the partition points at.
    await expect(env.repos.manifests.read(users, 1, 1)).rejects.toThrow();
    expect((await env.repos.manifests.read(users, 2, partition.manifestChunks)).size).toBe(13);
  });

  it("marks a vanished user inactive after a full sync and brings it back when it reappears", async () => {
    await sync();
    const removed = slackUser("U06MIKEO");
    servers.gateway.data.slackUsers = servers.gateway.data.slackUsers.filter((u) => u.id !== "U06MIKEO");
    env.clock.advance(60_000);

    const vanished = await sync();

    expect(vanished).toMatchObject({ counts: { itemsFound: 11, itemsDeleted: 1, itemsCreated: 0, itemsUpdated: 0 } });
    let items = await env.items(users);
    expect(items.get("U06MIKEO")).toMatchObject({ status: "inactive", change: "status" });
    expect(items.get("U06MIKEO")?.inactiveSince).toBeDefined();
    expect((await env.partition(users)).itemCount).toBe(10);

    servers.gateway.data.slackUsers.push(removed);
    env.clock.advance(60_000);
    const back = await sync();

    expect(back).toMatchObject({ itemWrites: 1, counts: { itemsUpdated: 1, itemsDeleted: 0, itemsCreated: 0 } });
    items = await env.items(users);
    expect(items.get("U06MIKEO")?.status).toBe("active");
    expect(items.get("U06MIKEO")?.inactiveSince).toBeUndefined();
    expect((await env.partition(users)).itemCount).toBe(11);
  });

  it("marks a user deleted when its deletedField turns true, and active again when it is restored", async () => {
    await sync();
    slackUser("U09MARCJ").deleted = true;
    env.clock.advance(60_000);

    const outcome = await sync();

    expect(outcome).toMatchObject({ counts: { itemsDeleted: 1, itemsUpdated: 0 } });
    expect((await env.items(users)).get("U09MARCJ")?.status).toBe("deleted");

    slackUser("U09MARCJ").deleted = false;
    env.clock.advance(60_000);
    expect(await sync()).toMatchObject({ counts: { itemsUpdated: 1, itemsDeleted: 0 } });
    expect((await env.items(users)).get("U09MARCJ")?.status).toBe("active");
  });

  it("finishes soft deletes in the next invocation when time runs out half-way through them", async () => {
    env = await createEnv(servers, { deactivateChunk: 1 });
    [users] = (await env.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      override: {
        pagination: {
          strategy: "cursor",
          cursorPath: "response_metadata.next_cursor",
          cursorParam: "cursor",
          pageSize: 5,
          limitParam: "limit",
        },
      },
    })) as [PartitionRef];
    await sync();
    const gone = ["U03SCONN", "U07LENAM", "U10ZOEWI"];
    servers.gateway.data.slackUsers = servers.gateway.data.slackUsers.filter((u) => !gone.includes(u.id));
    env.clock.advance(60_000);

    // Both pages (9 users) fit the budget; the time is up after the first soft delete.
    await env.request(users);
    const { results, invocations } = await env.drain({ pageBudget: 2 });

    expect(invocations).toBe(2);
    const [continued, completed] = outcomes(results);
    expect(continued).toMatchObject({ status: "continued", page: 1 });
    expect(completed).toMatchObject({ status: "completed", counts: { itemsFound: 9, itemsDeleted: 3 } });
    const items = await env.items(users);
    for (const id of gone) expect(items.get(id)?.status).toBe("inactive");
    // The second invocation fetched no page again: 3 pages for the first sync, 2 for this one.
    expect(servers.gateway.calls).toHaveLength(5);
  });

  it("syncs channels across an empty page that still has a next cursor", async () => {
    const [channels] = (await env.seed({ integrationId: "slack", dataTypes: ["channels"] })) as [PartitionRef];
    await env.request(channels);
    const [outcome] = outcomes((await env.drain()).results);

    expect(outcome).toMatchObject({ status: "completed", counts: { itemsFound: 9, itemsCreated: 9 } });
    const pages = servers.gateway.calls.filter((c) => c.actionSlug === "list-channels");
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect((await env.items(channels)).get("C09OLDPROJ")?.metadata).toMatchObject({ is_archived: true });
  });
});
