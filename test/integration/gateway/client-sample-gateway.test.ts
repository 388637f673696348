/**
 * The gateway client, pagination and extraction against the sample gateway over real HTTP on 127.0.0.1.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  SAMPLE_SOURCES,
  type SampleGateway,
  type SampleSource,
  sampleGatewayKey,
  startSampleGateway,
} from "../../../infra/local/sample-gateway/index.js";
import { type ReferenceDataConfig, referenceDataConfigSchema } from "../../../shared/domain/source-config.js";
import { type ExtractedItem, extractItems, extractObject } from "../../../shared/extraction/extract.js";
import {
  createGatewayClient,
  type GatewayClient,
  type GatewayClientOptions,
  type InvokeRequest,
} from "../../../shared/gateway/client.js";
import { GatewayError } from "../../../shared/gateway/errors.js";
import { firstPage, nextPage } from "../../../shared/gateway/pagination.js";

let gateway: SampleGateway;
const sleeps: number[] = [];

beforeAll(async () => {
  gateway = await startSampleGateway();
});
afterAll(async () => {
  await gateway.stop();
});
afterEach(() => {
  gateway.setFaults(undefined);
  gateway.calls.length = 0;
  sleeps.length = 0;
});

/** A client whose backoff waits are recorded, not slept: the test never waits on a timer it does not need. */
function client(overrides: Partial<GatewayClientOptions> = {}): GatewayClient {
  return createGatewayClient({
    baseUrl: gateway.url,
    apiKey: async (tenantId) => ({ apiKey: sampleGatewayKey(tenantId), version: "v1" }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
}

function source(integrationId: string, dataType: string): SampleSource {
  const found = SAMPLE_SOURCES.find((s) => s.integrationId === integrationId && s.dataType === dataType);
  if (!found) throw new Error(`no sample source ${integrationId}/${dataType}`);
  return found;
}

function request(src: SampleSource, overrides: Partial<InvokeRequest> = {}): InvokeRequest {
  return {
    integrationSlug: src.integrationSlug,
    actionSlug: src.actionSlug,
    tenantId: "tenant-a",
    connectionId: "default",
    idempotencyKey: "job-1:0",
    input: {},
    deadline: Date.now() + 60_000,
    ...overrides,
  };
}

/** Pages through a source the way the sync engine does: firstPage → invoke → extract → nextPage. */
async function syncAll(
  src: SampleSource,
  options: { config?: Partial<ReferenceDataConfig>; base?: Record<string, unknown>; connectionId?: string } = {},
) {
  const config = { ...referenceDataConfigSchema.parse(src.referenceData), ...options.config };
  let state = firstPage(config.pagination, { ...config.request, ...options.base });
  const items: ExtractedItem[] = [];
  const pageSizes: number[] = [];
  const gw = client();
  while (!state.done) {
    const response = await gw.invoke(
      request(src, {
        input: state.input,
        idempotencyKey: `job-1:${state.page}`,
        connectionId: options.connectionId ?? "default",
      }),
    );
    const extracted = extractItems(config, response.data);
    items.push(...extracted.items);
    pageSizes.push(extracted.matched);
    state = nextPage(config.pagination, state, response, extracted.matched);
  }
  return { items, pageSizes };
}

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

describe("sample sources through the client", () => {
  it("syncs Slack users with cursor pagination across pages, names from profile.real_name", async () => {
    const { items, pageSizes } = await syncAll(source("slack", "users"), {
      config: {
        pagination: {
          strategy: "cursor",
          cursorPath: "response_metadata.next_cursor",
          cursorParam: "cursor",
          limitParam: "limit",
          pageSize: 5,
        },
      },
    });
    expect(pageSizes).toEqual([5, 5, 2]);
    expect(items.map((i) => i.externalId)).toEqual(gateway.data.slackUsers.map((u) => u.id));
    const derek = items.find((i) => i.name === "Derek Osgood");
    expect(derek?.lookup).toMatchObject({ name: "derek", "profile.email": "derek.osgood@acme.example" });
    expect(derek?.metadata).toMatchObject({ is_admin: true, "profile.title": "Head of Engineering" });
    expect(items.find((i) => i.name === "Tom Becker")?.deleted).toBe(true);
    expect(items.find((i) => i.name === "Deploy Bot")?.metadata).toMatchObject({ is_bot: true });
    expect(gateway.calls.map((c) => [c.idempotencyKey, c.input.limit, typeof c.input.cursor])).toEqual([
      ["job-1:0", 5, "undefined"],
      ["job-1:1", 5, "string"],
      ["job-1:2", 5, "string"],
    ]);
  });

  it("syncs Slack channels through the empty page mid-stream", async () => {
    const { items, pageSizes } = await syncAll(source("slack", "channels"));
    expect(pageSizes).toContain(0);
    expect(pageSizes.indexOf(0)).toBeLessThan(pageSizes.length - 1);
    expect(items.map((i) => i.name)).toEqual(gateway.data.slackChannels.map((c) => c.name));
    expect(items.map((i) => i.name)).toEqual(expect.arrayContaining(["general", "random"]));
    expect(gateway.calls[0]?.input).toMatchObject({ exclude_archived: false, limit: 100 });
  });

  it("syncs GitHub repositories (root array, numeric ids) with page/per_page, ending on a short page", async () => {
    const { items, pageSizes } = await syncAll(source("github", "repositories"));
    expect(pageSizes).toEqual([5, 5, 2]);
    expect(items.map((i) => i.externalId)).toEqual(gateway.data.githubRepos.map((r) => String(r.id)));
    expect(items.find((i) => i.name === "frontend")?.lookup).toEqual({ name: "frontend", full_name: "acme/frontend" });
    expect(gateway.calls.map((c) => c.input.page)).toEqual([1, 2, 3]);
  });

  it("syncs Microsoft Graph users by following @odata.nextLink", async () => {
    const { items, pageSizes } = await syncAll(source("microsoft", "users"));
    expect(pageSizes).toEqual([5, 3]);
    expect(items.map((i) => i.name)).toEqual(gateway.data.graphUsers.map((u) => u.displayName));
    expect(gateway.calls[1]?.input).toMatchObject({ $top: "5", $skiptoken: expect.any(String) });
    // Graph sends `mail: null` for a room: present, so kept as null.
    expect(items.find((i) => i.name === "Conference Room Atlas")?.metadata).toMatchObject({ mail: null });
  });

  it("syncs with the gateway's own continuation token", async () => {
    const slackUsers = source("slack", "users");
    const { items, pageSizes } = await syncAll(
      { ...slackUsers, actionSlug: "list-users-paged" },
      { config: { pagination: { strategy: "gateway" } }, base: { limit: 4 } },
    );
    expect(pageSizes).toEqual([4, 4, 4]);
    expect(items).toHaveLength(gateway.data.slackUsers.length);
    expect(gateway.calls.slice(1).every((c) => typeof c.input.continuationToken === "string")).toBe(true);
  });

  it("filters Slack users by updated_since for incremental syncs", async () => {
    const original = gateway.data.slackUsers.map((u) => ({ ...u }));
    try {
      const lena = gateway.data.slackUsers.find((u) => u.name === "lena");
      if (!lena) throw new Error("no lena");
      lena.updated = 1_800_000_000;
      lena.profile.real_name = "Lena Schmidt";
      const { items } = await syncAll(source("slack", "users"), {
        base: { updated_since: new Date(1_790_000_000_000).toISOString() },
      });
      expect(items.map((i) => i.name)).toEqual(["Lena Schmidt"]);
    } finally {
      gateway.data.slackUsers = original;
    }
  });

  it("fetches the HubSpot CRM schema (over 400 KB) whole", async () => {
    const src = source("hubspot", "crm_schema");
    const response = await client().invoke(request(src));
    const object = extractObject(response.data);
    expect(object).toEqual(gateway.data.crmSchema);
    expect(JSON.stringify(object).length).toBeGreaterThan(400 * 1024);
  });

  it("reflects changes to the mutable data on the next call", async () => {
    const removed = gateway.data.slackChannels.pop();
    try {
      const { items } = await syncAll(source("slack", "channels"));
      expect(items.map((i) => i.externalId)).not.toContain(removed?.id);
    } finally {
      if (removed) gateway.data.slackChannels.push(removed);
    }
  });
});

describe("headers", () => {
  it("sends tenant, connection and idempotency headers, and no connection for default", async () => {
    const src = source("github", "repositories");
    await client().invoke(request(src, { connectionId: "conn-42", idempotencyKey: "01JOB:9" }));
    await client().invoke(request(src, { connectionId: "default" }));
    expect(gateway.calls[0]).toMatchObject({
      tenantId: "tenant-a",
      connectionId: "conn-42",
      idempotencyKey: "01JOB:9",
    });
    expect(gateway.calls[1]).not.toHaveProperty("connectionId");
    expect(gateway.calls[1]?.tenantId).toBe("tenant-a");
  });
});

describe("errors over HTTP", () => {
  const src = () => source("slack", "users");

  it("classifies a refused tenant key as gateway_key INVALID_API_KEY, thrown without retries", async () => {
    const error = await rejection(
      client({ apiKey: async () => ({ apiKey: "wrong", version: "v9" }), maxAttempts: 3 }).invoke(request(src())),
    );
    expect(error).toMatchObject({ kind: "gateway_key", code: "INVALID_API_KEY", status: 401, keyVersion: "v9" });
    expect(gateway.calls).toHaveLength(1);
    expect(sleeps).toHaveLength(0);
  });

  it.each([
    ["expired", "credentials", "CREDENTIALS_EXPIRED", 401],
    ["missing", "credentials", "CREDENTIALS_MISSING", 401],
    ["disabled", "credentials", "INTEGRATION_DISABLED", 403],
  ] as const)("classifies connection '%s' as %s %s without retrying", async (connectionId, kind, code, status) => {
    const error = await rejection(client().invoke(request(src(), { connectionId })));
    expect(error).toMatchObject({ kind, code, status });
    expect(error.requestId).toMatch(/^req_sample_/);
    expect(gateway.calls).toHaveLength(1);
  });

  it("classifies an unknown action and an unknown integration as configuration errors", async () => {
    const action = await rejection(client().invoke(request(src(), { actionSlug: "list-nothing" })));
    expect(action).toMatchObject({ kind: "configuration", code: "ACTION_NOT_FOUND", status: 404 });
    const integration = await rejection(client().invoke(request(src(), { integrationSlug: "nope" })));
    expect(integration).toMatchObject({ kind: "configuration", code: "INTEGRATION_NOT_FOUND" });
  });

  it("classifies a bad input (invalid cursor) as a configuration VALIDATION_ERROR", async () => {
    const error = await rejection(client().invoke(request(src(), { input: { cursor: "not-a-cursor" } })));
    expect(error).toMatchObject({ kind: "configuration", code: "VALIDATION_ERROR", status: 400 });
  });

  it("waits the Retry-After of a scripted 429, then succeeds", async () => {
    gateway.failNext({ status: 429, code: "RATE_LIMITED", retryAfterHeader: "2" });
    const response = await client().invoke(request(src()));
    expect(response.data).toMatchObject({ ok: true });
    expect(sleeps).toEqual([2000]);
    expect(gateway.calls.map((c) => c.status)).toEqual([429, 200]);
  });

  it("prefers retryAfterMs from the body over the header", async () => {
    gateway.failNext({ status: 429, code: "RATE_LIMITED", retryAfterMs: 750, retryAfterHeader: "9" });
    await client().invoke(request(src()));
    expect(sleeps).toEqual([750]);
  });

  it("gives up on a 429 whose wait passes the deadline", async () => {
    gateway.failNext({ status: 429, code: "RATE_LIMITED", retryAfterMs: 120_000 });
    const error = await rejection(client().invoke(request(src(), { deadline: Date.now() + 30_000 })));
    expect(error).toMatchObject({ kind: "rate_limited", retryAfterMs: 120_000 });
    expect(sleeps).toEqual([]);
  });

  it("retries scripted 500, 503 and 504 answers with the same idempotency key", async () => {
    gateway.failNext(
      { status: 500, code: "INTERNAL_ERROR" },
      { status: 503, code: "CIRCUIT_OPEN" },
      { status: 504, code: "TIMEOUT" },
    );
    const response = await client({ maxAttempts: 4 }).invoke(request(src(), { idempotencyKey: "job-9:3" }));
    expect(response.data).toMatchObject({ ok: true });
    expect(gateway.calls.map((c) => [c.status, c.idempotencyKey])).toEqual([
      [500, "job-9:3"],
      [503, "job-9:3"],
      [504, "job-9:3"],
      [200, "job-9:3"],
    ]);
    expect(sleeps).toHaveLength(3);
  });

  it("treats a scripted truncated body and an HTML 502 as retryable", async () => {
    gateway.failNext(
      { status: 200, code: "-", body: '{"success":true,"data":{"ok":true,"members":[{"id":"U1"' },
      { status: 502, code: "-", body: "<html><body>502 Bad Gateway</body></html>" },
    );
    const errors: string[] = [];
    const response = await client({ onRetry: (error) => errors.push(error.code) }).invoke(request(src()));
    expect(response.data).toMatchObject({ ok: true });
    expect(errors).toEqual(["RESPONSE_VALIDATION_ERROR", "HTTP_502"]);
  });

  it("aborts a hanging call after requestTimeoutMs and reports TIMEOUT", async () => {
    gateway.setFaults({ rate: 1, seed: 1, kinds: ["timeout"], timeoutMs: 30_000 });
    const error = await rejection(client({ requestTimeoutMs: 150, maxAttempts: 2 }).invoke(request(src())));
    expect(error).toMatchObject({ kind: "retryable", code: "TIMEOUT" });
    expect(gateway.calls.map((c) => c.status)).toEqual([504, 504]);
  });

  it("reports injected truncated JSON as RESPONSE_VALIDATION_ERROR", async () => {
    gateway.setFaults({ rate: 1, seed: 3, kinds: ["truncated"] });
    const error = await rejection(client({ maxAttempts: 1 }).invoke(request(src())));
    expect(error).toMatchObject({ kind: "retryable", code: "RESPONSE_VALIDATION_ERROR", status: 200 });
  });

  it("reports a closed port as a retryable NETWORK_ERROR", async () => {
    const gone = await startSampleGateway();
    await gone.stop();
    const error = await rejection(client({ baseUrl: gone.url, maxAttempts: 1 }).invoke(request(src())));
    expect(error).toMatchObject({ kind: "retryable", code: "NETWORK_ERROR" });
  });
});
