/**
 * A worker that dies between saving its checkpoint chunks and pointing the job at them: the redelivered message
 * resumes from the page the saved chunks belong to, so no page is read twice and the counts are a clean run's.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { syntheticSlackUsers } from "../../../infra/local/sample-gateway/index.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { LEASE_MS } from "../../../shared/sync/durations.js";
import { SimulatedCrash } from "../../../shared/sync/run-sync.js";
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
const COUNT = 3_000;

beforeAll(async () => {
  servers = await startServers();
  env = await createEnv(servers);
  servers.gateway.data.slackUsers = syntheticSlackUsers(COUNT, 5);
  [users] = (await env.seed({
    integrationId: "slack",
    dataTypes: ["users"],
    override: slackCursorPages(100),
  })) as [PartitionRef];
});
afterAll(async () => {
  await servers.stop();
});

describe("checkpoint crash", () => {
  it("resumes from the saved chunks' page when the worker died before the job pointed at them", async () => {
    const jobs = env.repos.jobs;
    const update = jobs.update.bind(jobs);
    let checkpoints = 0;
    jobs.update = async (tenantId, integrationId, jobId, patch, options) => {
      // The second checkpoint's chunks are saved; the process dies before the job update that points at them.
      if (patch.checkpoint && ++checkpoints === 2) throw new SimulatedCrash();
      return update(tenantId, integrationId, jobId, patch, options);
    };
    try {
      await env.request(users);
      const first = await env.deliverOnce({ pageBudget: 10 }, 1);
      const dying = await env.deliverOnce({ pageBudget: 10 }, 1);
      expect(outcomes(first.results).map((o) => o.status)).toEqual(["continued"]);
      expect(dying.crashed).toBe(true);
    } finally {
      jobs.update = update;
    }
    // The message comes back after its visibility timeout, which is longer than the lease.
    env.clock.advance(LEASE_MS + 10_000);
    const { results } = await env.drain({ pageBudget: 10 });

    expect(outcomes(results).at(-1)).toMatchObject({
      status: "completed",
      counts: { itemsFound: COUNT, itemsCreated: COUNT, itemsUpdated: 0, itemsDeleted: 0, itemsDuplicate: 0 },
    });
    const [job] = await env.jobs(users);
    expect(job).toMatchObject({ status: "completed", pages: COUNT / 100, itemsDuplicate: 0, itemsFailed: 0 });
    expect((await env.repos.items.loadHashes(users)).size).toBe(COUNT);
  });
});
