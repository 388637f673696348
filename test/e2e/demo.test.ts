/**
 * What a newcomer sees on `npm start`: the first start seeds the demo and prints a key and curl commands; every
 * printed command is run here exactly as printed, in a shell, and must answer successfully; a restart prints the same
 * key again and the data is still there.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultDatasets, SAMPLE_DEMO_GATEWAY_KEY, sampleUuid } from "../../infra/local/sample-gateway/index.js";
import { type LocalStack, startLocalStack } from "../../infra/local/stack.js";
import { createLogger } from "../../shared/log.js";
import { eventually } from "./support/eventually.js";
import { type LookupData, localApi } from "./support/local-api.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface DiscoveryData {
  status: string;
  integrations: number;
  sources: Record<string, number>;
  connections: Record<string, number>;
  problems: { integrationId: string; actionSlug?: string; code: string; field?: string }[];
}

const run = promisify(execFile);

/** The environment of a fresh terminal: nothing the stack set in this process for its handlers. */
function terminalEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ["TABLE_NAME", "DYNAMODB_ENDPOINT", "SQS_ENDPOINT", "QUEUE_URL", "DLQ_URL", "DYNAMODB_PORT"]) {
    delete env[name];
  }
  return env;
}

/** Runs one printed line in a POSIX shell from the repository root, as a user pasting it would. */
async function shell(line: string): Promise<string> {
  const { stdout } = await run("sh", ["-c", line], { cwd: process.cwd(), env: terminalEnv(), timeout: 60_000 });
  return stdout;
}

describe("npm start demo", () => {
  let dataDir: string;
  let stack: LocalStack;

  const start = () =>
    startLocalStack({
      port: 0,
      dynamoPort: 0,
      sqsPort: 0,
      sampleGatewayPort: 0,
      dataDir,
      scheduleSeconds: 3600,
      workerTimeoutSeconds: 60,
      shutdownGraceMs: 10_000,
      firstSyncWaitMs: 60_000,
      logLevel: "warn",
      log: createLogger({}, "silent"),
    });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "rds-demo-"));
    stack = await start();
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("prints a new demo key, kept in the data directory with a local-only note, after the first sync", () => {
    const banner = stack.banner();

    expect(stack.demo?.created).toBe(true);
    expect(stack.apiKey).toMatch(/^rds_/);
    expect(banner).toContain(`Demo API key    ${stack.apiKey}`);
    expect(banner).toContain("The first sync has finished");
    const keyFile = readFileSync(join(dataDir, "demo-key.txt"), "utf8");
    expect(keyFile).toContain(stack.apiKey);
    expect(keyFile).toMatch(/LOCAL ONLY/);
  });

  it("answers every printed curl command successfully", async () => {
    const lines = stack
      .banner()
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.startsWith("curl "));
    expect(lines.length).toBeGreaterThanOrEqual(6);

    const outputs: string[] = [];
    for (const line of lines) {
      const stdout = await shell(line);
      const body = JSON.parse(stdout) as { success: boolean };
      expect(body.success, `${line}\n${stdout}`).toBe(true);
      outputs.push(stdout);
    }
    const all = outputs.join("\n");
    expect(all).toContain("Derek Osgood");
    expect(all).toContain("Sarah Connor");
    expect(all).toContain("C01GENERAL");
  });

  it("found the sources and connections in the gateway: nothing was registered by hand", async () => {
    const api = localApi(() => stack.apiUrl, stack.apiKey);
    const discovery = await api<DiscoveryData>("GET", "/discovery");
    expect(discovery.status, discovery.text).toBe(200);
    expect(discovery.body.data).toMatchObject({
      status: "completed",
      integrations: 4,
      sources: { added: 5, removed: 0, shadowed: 0 },
      // Slack's primary and second connection, GitHub, Graph, HubSpot; the disabled Slack one is paused.
      connections: { enrolled: 5, paused: 1, revoked: 0 },
    });
    const problems = discovery.body.data?.problems ?? [];
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          actionSlug: "list-user-groups",
          code: "INVALID_CONFIG",
          field: "metadata.referenceData.extractionPath",
        }),
        expect.objectContaining({ code: "PAGINATION_UNSUPPORTED", field: "paginationConfig.type" }),
      ]),
    );
    const sampleGateway = stack.sampleGateway;
    if (!sampleGateway) throw new Error("no sample gateway");
    // Every listing and every action call carried the demo tenant's own key; connections by UUID.
    expect(sampleGateway.listings.every((call) => call.apiKey === SAMPLE_DEMO_GATEWAY_KEY)).toBe(true);
    const demoCalls = sampleGateway.calls.filter((call) => call.tenantId === "demo");
    expect(demoCalls.length).toBeGreaterThan(0);
    for (const call of demoCalls) expect(call.connectionId ?? "").toMatch(UUID);
  });

  it("adds this service's own fields to a discovered source with PATCH, validated like a PUT", async () => {
    const api = localApi(() => stack.apiUrl, stack.apiKey);
    const sources = `/integrations/${sampleUuid("demo", "slack")}/reference-data/sources`;
    const bad = await api("PATCH", `${sources}/users`, { body: { extensions: { deletedField: "a..b" } } });
    expect(bad.status, bad.text).toBe(400);
    expect(bad.text).toContain("extensions.deletedField");
    const patched = await api<{ referenceData: Record<string, unknown>; extensions: Record<string, unknown> }>(
      "PATCH",
      `${sources}/users`,
      { body: { extensions: { deletedField: "deleted" } } },
    );
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.data).toMatchObject({
      origin: "discovered",
      extensions: { deletedField: "deleted" },
      referenceData: { deletedField: "deleted", extractionPath: "$.members[*]" },
    });
    const listed = await api<{ dataType: string; origin: string }[]>("GET", sources);
    expect(listed.body.data?.map((source) => [source.dataType, source.origin])).toEqual([
      ["channels", "discovered"],
      ["users", "discovered"],
    ]);
  });

  it("syncs a second tenant with its own Waygate key from its own upstream, and neither sees the other's data", async () => {
    const sampleGateway = stack.sampleGateway;
    if (!sampleGateway) throw new Error("no sample gateway");
    // Upstream: a second Waygate tenant with a key and data of its own.
    const acmeKey = "wg_live_acme_e2e_0123456789";
    const acmeUsers = defaultDatasets().slackUsers.map((user, i) => ({
      ...user,
      id: `UACME${String(i).padStart(4, "0")}`,
      name: `acme.person${i}`,
      profile: { ...user.profile, real_name: `Acmeperson Number${i}`, email: `p${i}@acme.test` },
    }));
    sampleGateway.addTenant({ tenantId: "acme-upstream", apiKey: acmeKey, datasets: { slackUsers: acmeUsers } });

    const created = await stack.repos.apiKeys.create("acme", {
      name: "e2e",
      scopes: ["read", "sync", "admin"],
      now: Date.now(),
    });
    const acme = localApi(() => stack.apiUrl, created.key);
    const demo = localApi(() => stack.apiUrl, stack.apiKey);
    const saved = await acme("PUT", "/gateway/credentials", { body: { apiKey: acmeKey } });
    expect(saved.status, saved.text).toBe(200);

    const slackId = sampleUuid("acme-upstream", "slack");
    const primary = sampleUuid("acme-upstream", "slack", "conn", "primary");
    await eventually(
      async () =>
        (await acme<DiscoveryData>("GET", "/discovery")).body.data?.status === "completed" ? true : undefined,
      { attempts: 300, intervalMs: 100, what: "acme's discovery completed" },
    );
    // Discovery made the partitions due; the planner runs hourly in this test, so ask for the sync now.
    const trigger = await acme("POST", `/integrations/${slackId}/reference-data/sync`, { body: { dataType: "users" } });
    expect(trigger.status, trigger.text).toBe(202);
    const lookup = await eventually(
      async () => {
        const response = await acme<LookupData>(
          "GET",
          `/integrations/${slackId}/reference-data/users/lookup?query=acmeperson&connectionId=${primary}`,
        );
        return response.status === 200 && (response.body.data?.matches.length ?? 0) > 0 ? response : undefined;
      },
      { attempts: 300, intervalMs: 100, what: "acme's users synced" },
    );
    expect(lookup.body.data?.matches[0]?.id).toMatch(/^UACME/);
    expect(lookup.text).not.toContain("Derek");
    const derekAtAcme = await acme(
      "GET",
      `/integrations/${slackId}/reference-data/users?connectionId=${primary}&status=all&limit=500`,
    );
    expect(derekAtAcme.text).not.toContain("U01DEREK");

    // The demo tenant's cache holds none of acme's upstream data.
    const demoSlack = sampleUuid("demo", "slack");
    const demoPrimary = sampleUuid("demo", "slack", "conn", "primary");
    const demoUsers = await demo(
      "GET",
      `/integrations/${demoSlack}/reference-data/users?connectionId=${demoPrimary}&status=all&limit=500`,
    );
    expect(demoUsers.text).toContain("U01DEREK");
    expect(demoUsers.text).not.toContain("UACME");
    // Every call for acme's partitions carried acme's key.
    const acmeCalls = sampleGateway.calls.filter((call) => call.apiKey === acmeKey);
    expect(acmeCalls.length).toBeGreaterThan(0);
    expect(
      sampleGateway.calls.filter((call) => call.tenantId === "acme-upstream").every((c) => c.apiKey === acmeKey),
    ).toBe(true);
  });

  it("creates another tenant's key with the printed npm run api-key command, and that key sees no demo data", async () => {
    const line = stack
      .banner()
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.includes("npm run api-key"));
    if (!line) throw new Error("no api-key command printed");

    const stdout = await shell(line);
    const key = stdout.match(/rds_[A-Za-z0-9_-]{43}/)?.[0];
    if (!key) throw new Error(`no key in: ${stdout}`);
    const api = localApi(() => stack.apiUrl, key);
    const status = await api("GET", "/integrations/slack/reference-data/sync/status");
    expect(status.status).not.toBe(401);
    expect(status.text).not.toContain("Derek");
  });

  it("prints the same key again after a restart, and the synced data is still there", async () => {
    const key = stack.apiKey;
    await stack.stop();

    stack = await start();

    expect(stack.demo?.created).toBe(false);
    expect(stack.apiKey).toBe(key);
    expect(stack.banner()).toContain(`Demo API key    ${key}`);
    const derekCurl = stack
      .banner()
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.startsWith("curl ") && l.includes("query=derek"));
    expect(await shell(derekCurl ?? "false")).toContain("Derek Osgood");
  });
});
