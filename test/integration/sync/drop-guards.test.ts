/**
 * Issue 11, the suspicious-drop rules of DESIGN.md: `deletedField` means deleted only for `true` or a configured
 * `deletedValues` entry; the guard counts every item leaving `active` (deactivated or marked deleted); all-gone is
 * suspicious at any size; an empty or halved object is held until a second sync confirms it.
 * dynalite + fauxqs + the sample gateway over loopback.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { crmSchema, defaultDatasets } from "../../../infra/local/sample-gateway/index.js";
import { ObjectCache, readObject } from "../../../shared/api/query/objects.js";
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

beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});
beforeEach(async () => {
  env = await createEnv(servers);
  servers.gateway.data.slackUsers = defaultDatasets().slackUsers;
  servers.gateway.data.crmSchema = crmSchema();
  servers.gateway.calls.length = 0;
});

async function sync(ref: PartitionRef, extra: { force?: boolean } = {}) {
  await env.request(ref, extra);
  const { results } = await env.drain();
  const [outcome] = outcomes(results);
  if (!outcome) throw new Error(`no sync ran: ${JSON.stringify(results)}`);
  env.clock.advance(3_700_000);
  return outcome;
}

async function statuses(ref: PartitionRef): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const item of (await env.items(ref)).values()) counts[item.status] = (counts[item.status] ?? 0) + 1;
  return counts;
}

/** Sets every sample user's `deleted` to `value` (an upstream whose field changed type). */
function setDeleted(value: unknown): void {
  for (const user of servers.gateway.data.slackUsers) (user as unknown as { deleted: unknown }).deleted = value;
}

async function seedUsers(override: Record<string, unknown> = {}): Promise<PartitionRef> {
  const [ref] = await env.seed({
    integrationId: "slack",
    dataTypes: ["users"],
    override: { ...slackCursorPages(5), ...override },
  });
  return ref as PartitionRef;
}

describe("deletedField", () => {
  it("treats the strings 'false' and '0' as not deleted", async () => {
    const users = await seedUsers();
    await sync(users);
    setDeleted("false");
    await sync(users);
    setDeleted("0");
    const outcome = await sync(users);
    expect(outcome).toMatchObject({ status: "completed" });
    expect(await statuses(users)).toEqual({ active: servers.gateway.data.slackUsers.length });
  });

  it("marks deleted only true or one of deletedValues", async () => {
    const users = await seedUsers({ deletedValues: ["gone", 1] });
    const [first, second, third] = servers.gateway.data.slackUsers as unknown as { deleted: unknown }[];
    (first as { deleted: unknown }).deleted = "gone";
    (second as { deleted: unknown }).deleted = 1;
    (third as { deleted: unknown }).deleted = "true";
    await sync(users);
    const items = await env.items(users);
    const ids = servers.gateway.data.slackUsers.map((u) => u.id);
    expect(items.get(ids[0] as string)?.status).toBe("deleted");
    expect(items.get(ids[1] as string)?.status).toBe("deleted");
    expect(items.get(ids[2] as string)?.status).toBe("active");
  });
});

describe("the suspicious-drop guard", () => {
  it("counts items marked deleted as leaving active: a deletedField that flips for everyone is held", async () => {
    const users = await seedUsers();
    await sync(users);
    const before = await statuses(users);
    setDeleted(true);

    const held = await sync(users);

    expect(held.status).toBe("completed");
    if (held.status === "completed") {
      expect(held.warnings.join(" ")).toMatch(/Suspicious drop/);
      expect(held.counts.itemsDeleted).toBe(0);
    }
    expect(await statuses(users)).toEqual(before);

    // A second sync that sees the same drop confirms it.
    const confirmed = await sync(users);
    expect(confirmed).toMatchObject({ status: "completed" });
    expect(await statuses(users)).toEqual({ deleted: servers.gateway.data.slackUsers.length });
  });

  it("holds an empty list that would deactivate every item of a small partition", async () => {
    servers.gateway.data.slackUsers = defaultDatasets().slackUsers.slice(0, 8);
    const users = await seedUsers();
    await sync(users);
    expect(await statuses(users)).toEqual({ active: 8 });
    servers.gateway.data.slackUsers = [];

    const held = await sync(users);

    expect(held.status).toBe("completed");
    if (held.status === "completed") expect(held.warnings.join(" ")).toMatch(/Suspicious drop: 8 of 8/);
    expect(await statuses(users)).toEqual({ active: 8 });
    expect((await env.partition(users)).itemCount).toBe(8);

    expect(await sync(users, { force: true })).toMatchObject({ status: "completed", counts: { itemsDeleted: 8 } });
    expect(await statuses(users)).toEqual({ inactive: 8 });
  });

  it("lets a small partition lose one of its items without a warning", async () => {
    servers.gateway.data.slackUsers = defaultDatasets().slackUsers.slice(0, 3);
    const users = await seedUsers();
    await sync(users);
    servers.gateway.data.slackUsers = servers.gateway.data.slackUsers.slice(1);
    const outcome = await sync(users);
    expect(outcome).toMatchObject({ status: "completed", warnings: [], counts: { itemsDeleted: 1 } });
  });
});

describe("object partitions", () => {
  async function seedCrm(): Promise<PartitionRef> {
    const [ref] = await env.seed({ integrationId: "hubspot", dataTypes: ["crm_schema"] });
    return ref as PartitionRef;
  }
  const committed = async (ref: PartitionRef) =>
    (await readObject(env.repos.objects, ref, await env.partition(ref), new ObjectCache())).object;

  it.each([
    ["an empty object", {}],
    ["an empty array", []],
    ["null", null],
  ])("hold %s until a second sync confirms it", async (_label, empty) => {
    const crm = await seedCrm();
    await sync(crm);
    const original = await committed(crm);
    servers.gateway.data.crmSchema = empty as Record<string, unknown>;

    const held = await sync(crm);

    expect(held.status).toBe("completed");
    if (held.status === "completed") expect(held.warnings.join(" ")).toMatch(/held/);
    expect(await committed(crm)).toEqual(original);

    await sync(crm);
    expect(await committed(crm)).toEqual(empty);
  });

  it("hold a response less than half the size of the committed object; force applies it", async () => {
    const crm = await seedCrm();
    await sync(crm);
    const original = await committed(crm);
    servers.gateway.data.crmSchema = { objects: [] };

    await sync(crm);
    expect(await committed(crm)).toEqual(original);

    await sync(crm, { force: true });
    expect(await committed(crm)).toEqual({ objects: [] });
  });

  it("store the object without secret-looking fields", async () => {
    const crm = await seedCrm();
    servers.gateway.data.crmSchema = { ...crmSchema(), portal: { accessToken: "tok-secret", id: 7 } };
    await sync(crm);
    const stored = JSON.stringify(await committed(crm));
    expect(stored).not.toContain("tok-secret");
    expect(stored).toContain('"portal":{"id":7}');
  });

  it("apply a normal change at once", async () => {
    const crm = await seedCrm();
    await sync(crm);
    const changed = { ...crmSchema(), extra: "field" };
    servers.gateway.data.crmSchema = changed;
    expect(await sync(crm)).toMatchObject({ status: "completed", warnings: [] });
    expect(await committed(crm)).toEqual(changed);
  });
});
