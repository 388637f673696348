/**
 * A source too large for one invocation: 30,000 Slack users in pages of 1,000, with a time budget of ten pages per
 * invocation, complete across three invocations with the counts and soft deletes of the whole sync.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { syntheticSlackUsers } from "../../../infra/local/sample-gateway/index.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
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
const COUNT = 30_000;

beforeAll(async () => {
  servers = await startServers();
  env = await createEnv(servers);
  servers.gateway.data.slackUsers = syntheticSlackUsers(COUNT, 11);
  [users] = (await env.seed({
    integrationId: "slack",
    dataTypes: ["users"],
    override: slackCursorPages(1000),
  })) as [PartitionRef];
});
afterAll(async () => {
  await servers.stop();
});

describe("continuation", () => {
  it("completes a 30,000-item first sync across three invocations", async () => {
    await env.request(users);
    const { results, invocations } = await env.drain({ pageBudget: 10 });

    expect(invocations).toBe(3);
    const synced = outcomes(results);
    expect(synced.map((o) => o.status)).toEqual(["continued", "continued", "completed"]);
    expect(synced[2]).toMatchObject({
      counts: { itemsFound: COUNT, itemsCreated: COUNT, itemsUpdated: 0, itemsDeleted: 0, itemsDuplicate: 0 },
    });
    const [job] = await env.jobs(users);
    expect(job).toMatchObject({ status: "completed", invocations: 3, pages: 30, itemsCreated: COUNT });
    expect(job?.checkpoint).toBeUndefined();
    const partition = await env.partition(users);
    expect(partition).toMatchObject({ status: "idle", version: 1, itemCount: COUNT });
    expect((await env.repos.items.loadHashes(users)).size).toBe(COUNT);
  });

  it("applies the soft deletes of the whole sync, not of its last invocation, when a resync spans invocations", async () => {
    const all = servers.gateway.data.slackUsers;
    // Vanished users on the first, middle and last invocation's pages; one renamed on the first page.
    const gone = new Set([all[5]?.id, all[15_500]?.id, all[29_990]?.id]);
    servers.gateway.data.slackUsers = all.filter((u) => !gone.has(u.id));
    const renamed = servers.gateway.data.slackUsers[10];
    if (renamed) renamed.profile.real_name = "Renamed Person";
    env.clock.advance(2 * 3_600_000);

    await env.request(users);
    const { results, invocations } = await env.drain({ pageBudget: 10 });

    // Three invocations of paging, then users not seen are confirmed gone: the 20 pages read before the last
    // continuation are read once more (two invocations), since a user could have moved into them meanwhile.
    expect(invocations).toBe(5);
    const synced = outcomes(results);
    // Only the renamed user is written, in whichever invocation saw it.
    expect(synced.reduce((sum, o) => sum + ("itemWrites" in o ? o.itemWrites : 0), 0)).toBe(1);
    expect(synced.at(-1)).toMatchObject({
      status: "completed",
      counts: { itemsFound: COUNT - 3, itemsCreated: 0, itemsUpdated: 1, itemsDeleted: 3 },
    });
    const hashes = await env.repos.items.loadHashes(users);
    for (const id of gone) expect(hashes.get(id as string)?.status).toBe("inactive");
    expect(await env.partition(users)).toMatchObject({ version: 2, itemCount: COUNT - 3 });
  });
});
