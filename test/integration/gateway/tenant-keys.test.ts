/**
 * Per-tenant Waygate keys end to end below HTTP: saving credentials (verified against a Waygate-shaped gateway over
 * loopback, stored encrypted, never returned or logged), two tenants syncing at once with their own keys and their own
 * upstream data, a key revoked on the gateway pausing only its tenant, and a new key resuming it. Every log line and
 * every response of this file is searched for the keys at the end.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PurgeQueueCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { defaultDatasets, type SlackUser } from "../../../infra/local/sample-gateway/index.js";
import { enrollConnection } from "../../../shared/api/config/connections.js";
import { createFileKeyCipher, type KeyCipher } from "../../../shared/credentials/cipher.js";
import {
  type CredentialsDeps,
  deleteCredentials,
  getCredentials,
  saveCredentials,
} from "../../../shared/credentials/credentials-service.js";
import { type AppError, isAppError } from "../../../shared/domain/errors.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { errorEnvelope } from "../../../shared/http/envelope.js";
import type { Logger } from "../../../shared/log.js";
import { createEnv, type Env, outcomes, type Servers, startServers } from "../../support/sync-harness.js";

const KEY_A = "wg_live_tenantA_0123456789abcdef";
const KEY_A2 = "wg_live_tenantA_second_key_fedcba";
const KEY_B = "wg_live_tenantB_0123456789abcdef";
const KEYS = [KEY_A, KEY_A2, KEY_B];
const CONN_A = "2f1e4d3c-5b6a-4987-8a6b-1c2d3e4f5a6b";
const CONN_B = "7a8b9c0d-1e2f-4a3b-9c4d-5e6f7a8b9c0d";

const logLines: string[] = [];
const responses: string[] = [];

/** A logger that keeps every line it is given, so the test can search them. */
function recordingLogger(base: Record<string, unknown> = {}): Logger {
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    logLines.push(
      JSON.stringify({ level, message, ...base, ...fields }, (_k, v) =>
        v instanceof Error ? { message: v.message, stack: v.stack } : v,
      ),
    );
  };
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    child: (fields) => recordingLogger({ ...base, ...fields }),
  };
}

/** Runs a service call the way a route answers it: the success envelope, or the error envelope of a typed error. */
async function respond<T>(
  work: Promise<T>,
): Promise<{ ok: true; data: T } | { ok: false; status: number; code: string }> {
  try {
    const data = await work;
    responses.push(JSON.stringify({ success: true, data }));
    return { ok: true, data };
  } catch (error) {
    if (!isAppError(error)) throw error;
    responses.push(JSON.stringify(errorEnvelope(error as AppError, "req")));
    return { ok: false, status: error.status, code: error.code };
  }
}

function people(prefix: string): SlackUser[] {
  return defaultDatasets().slackUsers.map((user, i) => ({
    ...user,
    id: `U${prefix}${String(i).padStart(5, "0")}`,
    name: `${prefix.toLowerCase()}.user${i}`,
    profile: { ...user.profile, real_name: `${prefix} Person${i}`, email: `${i}@${prefix.toLowerCase()}.test` },
  }));
}

let servers: Servers;
let env: Env;
let cipher: KeyCipher;
let deps: CredentialsDeps;
const stdout: string[] = [];

beforeAll(async () => {
  // Everything written to stdout/stderr by this file is searched for the keys too.
  const capture = (chunk: unknown) => {
    stdout.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, "write").mockImplementation(capture);
  vi.spyOn(process.stderr, "write").mockImplementation(capture);
  servers = await startServers();
  cipher = createFileKeyCipher(join(mkdtempSync(join(tmpdir(), "rds-keys-")), "credentials.key"));
  env = await createEnv(servers, {}, { storedKeys: cipher });
  servers.gateway.addTenant({ tenantId: "waygate-a", apiKey: KEY_A, datasets: { slackUsers: people("AAA") } });
  servers.gateway.addTenant({ tenantId: "waygate-b", apiKey: KEY_B, datasets: { slackUsers: people("BBB") } });
  deps = {
    repos: env.repos,
    queue: env.queue,
    clock: env.clock,
    log: recordingLogger(),
    cipher,
    gatewayUrl: servers.gateway.url,
  };
});

afterAll(async () => {
  vi.restoreAllMocks();
  await servers?.stop();
  // Never returned, logged or echoed: not in any response, log line or console output of this whole file.
  const everything = [...responses, ...logLines, ...stdout].join("\n");
  for (const key of KEYS) expect(everything.includes(key), `a key leaked: ${key.slice(0, 12)}…`).toBe(false);
  expect(responses.length).toBeGreaterThan(5);
});

describe("gateway credentials", () => {
  it("refuses a key the gateway refuses (400 INVALID_GATEWAY_KEY) and stores nothing", async () => {
    const result = await respond(saveCredentials(deps, "tenant-a", { apiKey: "wg_live_wrong_0123456789" }));
    expect(result).toMatchObject({ ok: false, status: 400, code: "INVALID_GATEWAY_KEY" });
    expect(await env.repos.tenants.getCredentials("tenant-a")).toBeUndefined();
  });

  it("answers 503 GATEWAY_UNAVAILABLE when the gateway cannot be reached, and stores nothing", async () => {
    const result = await respond(
      saveCredentials({ ...deps, gatewayUrl: "http://127.0.0.1:9" }, "tenant-a", { apiKey: KEY_A }),
    );
    expect(result).toMatchObject({ ok: false, status: 503, code: "GATEWAY_UNAVAILABLE" });
    expect(await env.repos.tenants.getCredentials("tenant-a")).toBeUndefined();
  });

  it("stores a verified key encrypted under the tenant, shows only its hint, and queues discovery", async () => {
    const saved = await respond(saveCredentials(deps, "tenant-a", { apiKey: KEY_A }));
    expect(saved).toMatchObject({ ok: true, data: { status: "valid", discovery: { status: "queued" } } });
    const row = await env.repos.tenants.getCredentials("tenant-a");
    expect(row?.keyHint).toBe("wg_live_…cdef");
    expect(Buffer.from(row?.ciphertext ?? "", "base64").toString("utf8")).not.toContain(KEY_A);
    expect(await cipher.decrypt("tenant-a", row?.ciphertext ?? "")).toBe(KEY_A);
    // A ciphertext copied into another tenant's row does not decrypt.
    await expect(cipher.decrypt("tenant-b", row?.ciphertext ?? "")).rejects.toThrow(/does not decrypt/);
    expect(await respond(getCredentials(deps, "tenant-a"))).toMatchObject({ ok: true, data: { status: "valid" } });
    expect(await respond(getCredentials(deps, "tenant-b"))).toMatchObject({ ok: false, status: 404 });
    expect(env.queue.sends.flatMap((s) => s.messages)).toContainEqual(
      expect.objectContaining({ kind: "discover", tenantId: "tenant-a" }),
    );
  });

  it("accepts only UUIDs (or default) as connection IDs of a tenant with credentials", async () => {
    const configDeps = { repos: env.repos, queue: env.queue, clock: env.clock, log: recordingLogger() };
    const bad = await respond(
      enrollConnection(configDeps, { tenantId: "tenant-a", integrationId: "slack", connectionId: "conn-1" }),
    );
    expect(bad).toMatchObject({ ok: false, status: 400, code: "VALIDATION_ERROR" });
    // A tenant without credentials configures freely (nothing of it syncs until it saves a key).
    const free = await respond(
      enrollConnection(configDeps, { tenantId: "tenant-z", integrationId: "slack", connectionId: "conn-1" }),
    );
    expect(free.ok).toBe(true);
  });
});

describe("two tenants, each with its own key", () => {
  let a: PartitionRef;
  let b: PartitionRef;

  beforeAll(async () => {
    await saveCredentials(deps, "tenant-b", { apiKey: KEY_B });
    // The discovery runs the saves queued are not this suite's subject (test/integration/discovery covers them).
    await servers.sqs.sqs.send(new PurgeQueueCommand({ QueueUrl: env.queueUrl }));
    [a] = (await env.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      tenantId: "tenant-a",
      connections: [CONN_A],
    })) as [PartitionRef];
    [b] = (await env.seed({
      integrationId: "slack",
      dataTypes: ["users"],
      tenantId: "tenant-b",
      connections: [CONN_B],
    })) as [PartitionRef];
  });

  it("sync at once, each call carrying its tenant's key and a UUID connection, and each cache holds only its own upstream", async () => {
    servers.gateway.calls.length = 0;
    await Promise.all([env.request(a), env.request(b)]);
    const results = outcomes((await env.drain()).results);
    expect(results.filter((o) => o.status === "completed")).toHaveLength(2);

    const calls = servers.gateway.calls.filter((call) => call.actionSlug === "list-users");
    expect(calls.length).toBeGreaterThanOrEqual(2);
    for (const call of calls) {
      const expected = call.connectionId === CONN_A ? KEY_A : KEY_B;
      expect([CONN_A, CONN_B]).toContain(call.connectionId);
      expect(call.apiKey).toBe(expected);
    }
    // By data: tenant A's cache holds A's upstream people and none of B's, and the reverse.
    const itemsA = [...(await env.items(a)).keys()];
    const itemsB = [...(await env.items(b)).keys()];
    expect(itemsA.length).toBe(12);
    expect(itemsA.every((id) => id.startsWith("UAAA"))).toBe(true);
    expect(itemsB.length).toBe(12);
    expect(itemsB.every((id) => id.startsWith("UBBB"))).toBe(true);
  });

  it("pauses only the tenant whose key was revoked on the gateway, marks its key invalid, and resumes it after a new key", async () => {
    servers.gateway.revokeKey(KEY_A);
    env.clock.advance(3_600_000);
    await Promise.all([env.request(a), env.request(b)]);
    const results = outcomes((await env.drain()).results);
    expect(results).toEqual(
      expect.arrayContaining([expect.objectContaining({ status: "failed", paused: "gateway_key" })]),
    );
    expect(await env.partition(a)).toMatchObject({ status: "paused", pauseReason: "gateway_key" });
    expect((await env.partition(b)).status).toBe("idle");
    expect((await env.repos.tenants.getCredentials("tenant-a"))?.status).toBe("invalid");
    expect((await env.repos.tenants.getCredentials("tenant-b"))?.status).toBe("valid");

    // A new key for tenant A upstream, saved here: A's partitions resume (due now) and sync with it.
    servers.gateway.addTenant({ tenantId: "waygate-a", apiKey: KEY_A2, datasets: { slackUsers: people("AAA") } });
    const saved = await respond(saveCredentials(deps, "tenant-a", { apiKey: KEY_A2 }));
    expect(saved.ok).toBe(true);
    await servers.sqs.sqs.send(new PurgeQueueCommand({ QueueUrl: env.queueUrl }));
    expect((await env.partition(a)).status).toBe("idle");
    servers.gateway.calls.length = 0;
    env.clock.advance(180_000);
    await env.request(a);
    const resumed = outcomes((await env.drain()).results);
    expect(resumed).toEqual(expect.arrayContaining([expect.objectContaining({ status: "completed" })]));
    expect(servers.gateway.calls.filter((c) => c.actionSlug === "list-users").every((c) => c.apiKey === KEY_A2)).toBe(
      true,
    );
  });

  it("pauses the tenant when its key is deleted, and never calls the gateway for it", async () => {
    const removed = await respond(deleteCredentials(deps, "tenant-b"));
    expect(removed).toMatchObject({ ok: true, data: { deleted: true, paused: 1 } });
    expect(await env.partition(b)).toMatchObject({ status: "paused", pauseReason: "gateway_key" });
    servers.gateway.calls.length = 0;
    env.clock.advance(3_600_000);
    await env.request(b);
    await env.drain();
    expect(servers.gateway.calls).toHaveLength(0);
  });
});
