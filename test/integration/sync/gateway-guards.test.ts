/**
 * Issue 11, gateway side: only the codes of DESIGN.md's table change a partition's state. A WAF or load balancer page,
 * a redirect, an unknown code or status is transient (retried with backoff, never paused); a response larger than
 * GATEWAY_MAX_RESPONSE_BYTES fails the page with RESPONSE_TOO_LARGE instead of exhausting the worker's memory.
 * dynalite + fauxqs + the sample gateway over loopback.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { defaultDatasets, type ScriptedFailure } from "../../../infra/local/sample-gateway/index.js";
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

beforeAll(async () => {
  servers = await startServers();
});
afterAll(async () => {
  await servers.stop();
});
beforeEach(async () => {
  env = await createEnv(servers);
  servers.gateway.data.slackUsers = defaultDatasets().slackUsers;
  servers.gateway.calls.length = 0;
  [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"], override: slackCursorPages(5) })) as [
    PartitionRef,
  ];
});

async function sync(ref: PartitionRef = users) {
  await env.request(ref);
  const { results } = await env.drain();
  const [outcome] = outcomes(results);
  if (!outcome) throw new Error(`no sync ran: ${JSON.stringify(results)}`);
  return outcome;
}

const WAF_PAGE = "<html><head><title>403 Forbidden</title></head><body>Request blocked by WAF</body></html>";

/** Three answers in a row: the client's attempts (maxAttempts 3 in the harness) all get it. */
const thrice = (failure: ScriptedFailure): ScriptedFailure[] => [failure, failure, failure];

describe("gateway answers outside the error table", () => {
  it.each([
    ["a WAF's 403 HTML page", { status: 403, code: "", body: WAF_PAGE }],
    ["a load balancer's 404 page", { status: 404, code: "", body: "<html>Not Found</html>" }],
    ["a 302 redirect", { status: 302, code: "", body: "" }],
    ["a 401 that is not Waygate's envelope", { status: 401, code: "", body: "Unauthorized" }],
    ["an unknown Waygate code", { status: 400, code: "SOMETHING_NEW" }],
    ["a 418 with an unknown code", { status: 418, code: "TEAPOT" }],
    ["a JSON body that is not the envelope", { status: 400, code: "", body: '{"message":"bad"}' }],
  ] as [string, ScriptedFailure][])("fail the job as transient and never pause: %s", async (_label, failure) => {
    await sync();
    env.clock.advance(3_700_000);
    servers.gateway.failNext(...thrice(failure));

    const outcome = await sync();

    expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: "failed" });
    expect(outcome).not.toHaveProperty("paused");
    if (outcome.status === "failed") expect(outcome.error.retryable).toBe(true);
    const partition = await env.partition(users);
    expect(partition.status).toBe("failed");
    expect(partition.pauseReason).toBeUndefined();
    // Still in the due index: the planner brings it back after the backoff.
    expect(Date.parse(partition.nextSyncAt)).toBeGreaterThan(env.clock.now());
    expect((await env.items(users)).size).toBe(servers.gateway.data.slackUsers.length);
  });

  it("still pause on the listed codes (ACTION_NOT_FOUND is a configuration error)", async () => {
    servers.gateway.failNext({ status: 404, code: "ACTION_NOT_FOUND" });
    const outcome = await sync();
    expect(outcome).toMatchObject({ status: "failed", paused: "config" });
  });
});

describe("GATEWAY_MAX_RESPONSE_BYTES", () => {
  it("fails the page with RESPONSE_TOO_LARGE as a configuration problem, and keeps the committed data", async () => {
    const huge = JSON.stringify({
      success: true,
      data: { members: [{ id: "U1", name: "x".repeat(300_000) }] },
      meta: {},
    });
    const small = await createEnv(servers, {}, { maxResponseBytes: 100_000 });
    const [ref] = (await small.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      override: slackCursorPages(5),
    })) as [PartitionRef];
    await small.request(ref);
    await small.drain();
    const before = await small.items(ref);
    small.clock.advance(3_700_000);
    servers.gateway.failNext({ status: 200, code: "", body: huge });

    await small.request(ref);
    const [outcome] = outcomes((await small.drain()).results);

    expect(outcome).toMatchObject({ status: "failed", paused: "config", error: { code: "RESPONSE_TOO_LARGE" } });
    const items = await small.items(ref);
    expect(items.size).toBe(servers.gateway.data.slackUsers.length);
    for (const [id, item] of before) expect(items.get(id)?.status).toBe(item.status);
  });
});
