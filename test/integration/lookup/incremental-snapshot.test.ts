/**
 * Incremental index snapshots through real syncs (worker over fauxqs, dynalite and the sample gateway): random
 * histories of upstream changes — new users, renames, lookup values changed or gone, deleted flags, users gone and
 * back — synced in one invocation or split across several (checkpoint and continuation). After every sync the
 * committed version's snapshot must be exactly what a full rebuild from the stored items gives, and only the first
 * sync may read every item for it.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SlackUser } from "../../../infra/local/sample-gateway/datasets.js";
import { syntheticSlackUsers } from "../../../infra/local/sample-gateway/index.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { decodeSnapshotContent } from "../../../shared/lookup/snapshot.js";
import { comparable, fullRebuild } from "../../support/index-snapshot.js";
import { createEnv, type Servers, slackCursorPages, startServers } from "../../support/sync-harness.js";

const USERS = 100;
const PAGE_SIZE = 25;
const LOOKUP_FIELDS = ["profile.real_name", "name", "profile.email"];

let servers: Servers;
beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});

const text = fc.constantFrom("Ann Lee", "Zoë Kraus", "O'Brien", "José", "℡ desk", "#", "Sarah Connor");
/** One upstream change; `at` picks a user (modulo the current count). */
const change = fc.oneof(
  fc.record({ kind: fc.constant("rename" as const), at: fc.nat(), name: text }),
  fc.record({ kind: fc.constant("email" as const), at: fc.nat(), email: fc.option(text, { nil: undefined }) }),
  fc.record({ kind: fc.constant("deleted" as const), at: fc.nat(), deleted: fc.boolean() }),
  fc.record({ kind: fc.constant("remove" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("restore" as const) }),
  fc.record({ kind: fc.constant("add" as const), name: text }),
);
// At most 4 changes a sync: under the 5% of 100 items past which a full rebuild is cheaper.
const sync = fc.record({ changes: fc.array(change, { maxLength: 4 }), split: fc.boolean() });

type Change = typeof change extends fc.Arbitrary<infer T> ? T : never;

/** Applies one change to the upstream users (`removed` keeps the users gone, for a later restore). */
function apply(users: SlackUser[], removed: SlackUser[], step: Change): void {
  const pick = (at: number) => (users.length === 0 ? -1 : at % users.length);
  if (step.kind === "add") {
    const n = users.length + removed.length + 1;
    users.push({
      ...syntheticSlackUsers(1)[0]!,
      id: `UNEW${n}`,
      real_name: step.name,
      profile: { real_name: step.name, display_name: `new${n}` },
    });
    return;
  }
  if (step.kind === "restore") {
    const back = removed.pop();
    if (back) users.push(back);
    return;
  }
  const i = pick(step.at);
  if (i < 0) return;
  const user = users[i]!;
  if (step.kind === "rename")
    users[i] = { ...user, real_name: step.name, profile: { ...user.profile, real_name: step.name } };
  else if (step.kind === "email") {
    const { email: _email, ...profile } = user.profile;
    users[i] = { ...user, profile: step.email === undefined ? profile : { ...profile, email: step.email } };
  } else if (step.kind === "deleted") users[i] = { ...user, deleted: step.deleted };
  else if (step.kind === "remove") removed.push(...users.splice(i, 1));
}

describe("incremental index snapshots through real syncs", () => {
  it("any history of syncs leaves each version's snapshot equal to a full rebuild, reading every item only once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(sync, { minLength: 1, maxLength: 3 }), async (history) => {
        const env = await createEnv(servers);
        servers.gateway.data.slackUsers = syntheticSlackUsers(USERS, 3);
        const [users] = (await env.seed({
          integrationId: "slack",
          dataTypes: ["users"],
          override: slackCursorPages(PAGE_SIZE),
        })) as [PartitionRef];
        const readsEveryItem = vi.spyOn(env.repos.items, "listSummaries");
        let ownReads = 0;
        const removed: SlackUser[] = [];
        const check = async () => {
          const partition = await env.partition(users);
          expect(partition.lastJobStatus).toBe("completed");
          const snapshot = await env.repos.indexSnapshots.read(users, partition.version);
          // The one its commit recorded, so the one served and built on.
          expect(snapshot?.snapshotId).toBe(partition.snapshotId);
          const written = decodeSnapshotContent(snapshot?.bytes ?? new Uint8Array());
          ownReads++;
          const expected = fullRebuild(await env.repos.items.listSummaries(users), LOOKUP_FIELDS);
          expect(comparable(written)).toEqual(comparable(expected));
        };

        await env.request(users);
        await env.drain();
        await check();
        for (const { changes, split } of history) {
          const data = servers.gateway.data;
          const list = [...data.slackUsers];
          for (const step of changes) apply(list, removed, step);
          data.slackUsers = list;
          await env.request(users);
          await env.drain(split ? { pageBudget: 1 } : {});
          await check();
        }
        // The first sync's snapshot read every item; every later one was incremental (or kept, when nothing changed).
        expect(readsEveryItem.mock.calls.length - ownReads).toBe(1);
        readsEveryItem.mockRestore();
      }),
      { numRuns: 4 },
    );
  }, 60_000);
});
