/**
 * The service end to end, the way a user drives it: everything goes through the local stack's HTTP API (the tenant's
 * key comes from the API-key repository, as `npm run api-key` makes it). Register sources, enroll, trigger, wait for
 * the sync, look names up, read AI context; change the upstream data, resync, and see inactive and renamed items;
 * restart on the same data directory and find everything still there; a second tenant sees none of it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAMPLE_SOURCES, sampleGatewayKey } from "../../infra/local/sample-gateway/index.js";
import { type LocalStack, startLocalStack } from "../../infra/local/stack.js";
import { createLogger } from "../../shared/log.js";
import { eventually } from "./support/eventually.js";
import {
  type ApiCall,
  type ItemData,
  type LookupData,
  localApi,
  type StatusData,
  type TriggerData,
} from "./support/local-api.js";

const TENANT = "acme";
const OTHER_TENANT = "globex";
const SLACK = "/integrations/slack/reference-data";
const slackSources = SAMPLE_SOURCES.filter((s) => s.integrationId === "slack");

/** The handlers' clock: real time plus an offset the test moves forward instead of sleeping. */
const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };

describe("local stack end to end", () => {
  let dataDir: string;
  let stack: LocalStack;
  let key: string;
  let api: ApiCall;

  const start = () =>
    startLocalStack({
      port: 0,
      dynamoPort: 0,
      sqsPort: 0,
      sampleGatewayPort: 0,
      dataDir,
      seedDemo: false,
      // Only the startup pass plans: every sync in this test is one the test asked for.
      scheduleSeconds: 3600,
      workerTimeoutSeconds: 60,
      shutdownGraceMs: 10_000,
      logLevel: "warn",
      log: createLogger({}, "silent"),
      clock,
    });

  /** Waits until each job is completed (or fails the test with the job's error). */
  const waitForJobs = async (jobIds: string[]) =>
    eventually(
      async () => {
        const { body } = await api<StatusData>("GET", `${SLACK}/sync/status?limit=50`);
        const jobs = body.data?.recentJobs.filter((job) => jobIds.includes(job.jobId)) ?? [];
        const failed = jobs.find((job) => job.status === "failed");
        if (failed) throw new Error(`job ${failed.jobId} failed: ${JSON.stringify(failed)}`);
        return jobs.length === jobIds.length && jobs.every((job) => job.status === "completed") ? jobs : undefined;
      },
      { attempts: 150, intervalMs: 100, what: `jobs ${jobIds.join(", ")} completed` },
    );

  const lookup = async (dataType: string, query: string, extra = "") => {
    const response = await api<LookupData>(
      "GET",
      `${SLACK}/${dataType}/lookup?query=${encodeURIComponent(query)}${extra}`,
    );
    expect(response.status, response.text).toBe(200);
    return response.body.data as LookupData;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "rds-e2e-"));
    stack = await start();
    api = localApi(() => stack.apiUrl);
    const created = await stack.repos.apiKeys.create(TENANT, {
      name: "e2e",
      scopes: ["read", "sync", "admin"],
      now: clock.now(),
    });
    key = created.key;
    api = localApi(() => stack.apiUrl, key);
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("rejects requests without a valid API key with the INVALID_API_KEY envelope", async () => {
    for (const badKey of [null, "rds_not-a-real-key"]) {
      const response = await api("GET", `${SLACK}/sync/status`, { key: badKey });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ success: false, error: { code: "INVALID_API_KEY" } });
    }
  });

  it("saves the tenant's own Waygate key only once the gateway accepts it, and never shows it again", async () => {
    const refused = await api("PUT", "/gateway/credentials", { body: { apiKey: "wg_live_not_a_key_of_anyone" } });
    expect(refused.status, refused.text).toBe(400);
    expect(refused.body.error?.code).toBe("INVALID_GATEWAY_KEY");
    expect(refused.text).not.toContain("wg_live_not_a_key_of_anyone");
    expect((await api("GET", "/gateway/credentials")).status).toBe(404);

    const ownKey = sampleGatewayKey(TENANT);
    const saved = await api<{ keyHint: string; status: string; discovery: { status: string } }>(
      "PUT",
      "/gateway/credentials",
      { body: { apiKey: ownKey } },
    );
    expect(saved.status, saved.text).toBe(200);
    expect(saved.body.data).toMatchObject({ status: "valid", discovery: { status: "queued" } });
    expect(saved.text).not.toContain(ownKey);
    const shown = await api("GET", "/gateway/credentials");
    expect(shown.body.data).toMatchObject({ status: "valid", keyHint: saved.body.data?.keyHint });
    expect(shown.text).not.toContain(ownKey);
    // Stored encrypted: neither the row nor its decoded envelope holds the key.
    const row = await stack.repos.tenants.getCredentials(TENANT);
    expect(JSON.stringify(row)).not.toContain(ownKey);
    expect(Buffer.from(row?.ciphertext ?? "", "base64").toString("utf8")).not.toContain(ownKey);
    await eventually(
      async () =>
        (await api<{ status: string }>("GET", "/discovery")).body.data?.status === "completed" ? true : undefined,
      {
        attempts: 150,
        intervalMs: 100,
        what: "the first discovery completed",
      },
    );
  });

  it("registers sources, enrolls a connection, triggers a sync and reports it completed", async () => {
    for (const source of slackSources) {
      const response = await api("PUT", `${SLACK}/sources/${source.dataType}`, {
        body: {
          integrationSlug: source.integrationSlug,
          actionSlug: source.actionSlug,
          referenceData: source.referenceData,
        },
      });
      expect(response.status, response.text).toBe(201);
    }
    const enrolled = await api("PUT", "/integrations/slack/connections/default");
    expect(enrolled.status, enrolled.text).toBe(201);

    const trigger = await api<TriggerData>("POST", `${SLACK}/sync`, { body: {} });
    expect(trigger.status, trigger.text).toBe(202);
    const jobs = trigger.body.data?.jobs ?? [];
    expect(jobs.map((job) => job.dataType).sort()).toEqual(["channels", "users"]);
    expect(jobs.every((job) => job.jobId !== null && !job.deduplicated)).toBe(true);

    const completed = await waitForJobs(jobs.map((job) => job.jobId as string));
    const users = completed.find((job) => job.dataType === "users");
    expect(users?.itemsCreated).toBe(stack.sampleGateway?.data.slackUsers.length);
    const status = await api<StatusData>("GET", `${SLACK}/sync/status`);
    for (const partition of status.body.data?.dataTypes ?? []) {
      expect(partition).toMatchObject({ connectionId: "default", freshness: "fresh", lastJobStatus: "completed" });
      expect(partition.itemCount).toBeGreaterThan(0);
    }
    expect(status.body.data?.dataTypes).toHaveLength(2);
  });

  it("looks up people and channels by name", async () => {
    const derek = await lookup("users", "derek");
    expect(derek.matches[0]).toMatchObject({ id: "U01DEREK", name: "Derek Osgood" });
    expect(derek.ambiguous).toBe(false);
    expect(derek.stale).toBe(false);

    const sarah = await lookup("users", "sarah");
    expect(sarah.ambiguous).toBe(true);
    expect(sarah.matches.map((m) => m.name)).toEqual(expect.arrayContaining(["Sarah Chen", "Sarah Connor"]));

    const general = await lookup("channels", "#general");
    expect(general.matches[0]).toMatchObject({ id: "C01GENERAL", name: "general", matchType: "exact" });

    // Tom Becker is deleted upstream (Slack's `deleted: true`): kept, but not offered as a match.
    const tom = await lookup("users", "tom becker");
    expect(tom.matches.map((m) => m.id)).not.toContain("U11TOMBE");
  });

  it("renders AI context with the synced people and channels", async () => {
    const response = await api<{
      referenceData: Record<string, Array<{ id: string; name: string }>>;
      text: string;
    }>("GET", `${SLACK}/context?dataTypes=users,channels&maxTokens=4000`);

    expect(response.status, response.text).toBe(200);
    const context = response.body.data;
    expect(context?.referenceData.users).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: "U01DEREK", name: "Derek Osgood" })]),
    );
    expect(context?.referenceData.channels).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: "C01GENERAL", name: "general" })]),
    );
    expect(context?.text).toContain("Derek Osgood");
  });

  it("after upstream changes, a resync marks the removed user inactive and renames the channel", async () => {
    const data = stack.sampleGateway?.data;
    if (!data) throw new Error("the stack has no sample gateway");
    data.slackUsers = data.slackUsers.filter((user) => user.id !== "U03SCONN");
    const random = data.slackChannels.find((channel) => channel.id === "C02RANDOM");
    if (!random) throw new Error("sample data changed: no #random");
    random.name = "watercooler";

    // The partitions were triggered by hand under a minute ago: the API says when to come back.
    const throttled = await api<TriggerData>("POST", `${SLACK}/sync`, { body: {} });
    expect(throttled.status, throttled.text).toBe(429);
    const retryAfter = Number(throttled.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    clock.offsetMs += (retryAfter + 1) * 1000;

    const trigger = await api<TriggerData>("POST", `${SLACK}/sync`, { body: {} });
    expect(trigger.status, trigger.text).toBe(202);
    const jobs = await waitForJobs((trigger.body.data?.jobs ?? []).map((job) => job.jobId as string));
    expect(jobs.find((job) => job.dataType === "users")).toMatchObject({
      itemsDeleted: 1,
      itemsCreated: 0,
      itemsUpdated: 0,
    });
    expect(jobs.find((job) => job.dataType === "channels")).toMatchObject({ itemsUpdated: 1, itemsDeleted: 0 });

    const sarah = await lookup("users", "sarah");
    expect(sarah.matches.map((m) => m.id)).toContain("U02SCHEN");
    expect(sarah.matches.map((m) => m.id)).not.toContain("U03SCONN");
    const inactive = await api<ItemData[]>("GET", `${SLACK}/users?status=inactive`);
    expect(inactive.status, inactive.text).toBe(200);
    expect(inactive.body.data?.map((item) => [item.externalId, item.status])).toEqual([["U03SCONN", "inactive"]]);

    const renamed = await lookup("channels", "#watercooler");
    expect(renamed.matches[0]).toMatchObject({ id: "C02RANDOM", name: "watercooler" });
    const old = await lookup("channels", "#random");
    expect(old.matches.filter((m) => m.matchType === "exact").map((m) => m.id)).not.toContain("C02RANDOM");
  });

  it("keeps every item, job and key across a restart on the same data directory", async () => {
    const before = await api<StatusData>("GET", `${SLACK}/sync/status?limit=50`);
    await stack.stop();

    stack = await start();

    const derek = await lookup("users", "derek");
    expect(derek.matches[0]).toMatchObject({ id: "U01DEREK", name: "Derek Osgood" });
    const renamed = await lookup("channels", "watercooler");
    expect(renamed.matches[0]?.id).toBe("C02RANDOM");
    const after = await api<StatusData>("GET", `${SLACK}/sync/status?limit=50`);
    expect(after.body.data?.recentJobs.map((job) => [job.jobId, job.status])).toEqual(
      before.body.data?.recentJobs.map((job) => [job.jobId, job.status]),
    );
    expect(after.body.data?.dataTypes.map((p) => [p.dataType, p.itemCount]).sort()).toEqual(
      before.body.data?.dataTypes.map((p) => [p.dataType, p.itemCount]).sort(),
    );
  });

  it("shows a second tenant none of the first tenant's data and lets it change nothing", async () => {
    const other = await stack.repos.apiKeys.create(OTHER_TENANT, {
      name: "e2e",
      scopes: ["read", "sync", "admin"],
      now: clock.now(),
    });
    const asOther: ApiCall = (method, path, options) => api(method, path, { ...options, key: other.key });
    const leaks = ["U01DEREK", "Derek", "C01GENERAL", TENANT];

    const reads = await Promise.all([
      asOther("GET", SLACK),
      asOther("GET", `${SLACK}/users`),
      asOther("GET", `${SLACK}/users/lookup?query=derek`),
      asOther("GET", `${SLACK}/context?dataTypes=users,channels`),
      asOther("GET", `${SLACK}/sync/status`),
      asOther("GET", `${SLACK}/sources`),
      asOther("GET", "/integrations/slack/connections"),
    ]);
    for (const response of reads) {
      expect([200, 404], response.text).toContain(response.status);
      for (const leak of leaks) expect(response.text).not.toContain(leak);
    }
    const trigger = await asOther("POST", `${SLACK}/sync`, { body: {} });
    expect(trigger.status, trigger.text).toBe(404);
    const removal = await asOther("DELETE", `${SLACK}/sources/users`);
    expect(removal.status, removal.text).toBe(404);

    // The first tenant's data is untouched.
    const derek = await lookup("users", "derek");
    expect(derek.matches[0]?.id).toBe("U01DEREK");
  });
});
