/**
 * The sample gateway itself over raw HTTP: contract details, fault determinism, datasets and sample sources.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  defaultDatasets,
  type FaultOptions,
  faultsFromEnv,
  SAMPLE_SOURCES,
  type SampleGateway,
  type SampleGatewayOptions,
  sampleGatewayKey,
  sampleUuid,
  startSampleGateway,
  syntheticSlackUsers,
} from "../../../infra/local/sample-gateway/index.js";
import { referenceDataConfigSchema } from "../../../shared/domain/source-config.js";

const running: SampleGateway[] = [];

async function start(options: SampleGatewayOptions = {}): Promise<SampleGateway> {
  const gateway = await startSampleGateway(options);
  running.push(gateway);
  return gateway;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop()));
});

async function post(
  gateway: SampleGateway,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const response = await fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${sampleGatewayKey("t1")}`,
      "content-type": "application/json",
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}

describe("invoke contract", () => {
  it("answers the Waygate success envelope with requestId, timestamp and execution", async () => {
    const gateway = await start();
    const { status, json } = await post(gateway, "/api/v1/actions/github/list-repos", { per_page: 2 });
    expect(status).toBe(200);
    expect(json).toMatchObject({
      success: true,
      data: [{ name: "frontend" }, { name: "backend" }],
      meta: { requestId: expect.any(String), timestamp: expect.any(String), execution: expect.any(Object) },
    });
  });

  it("takes the tenant from the key alone: 401 INVALID_API_KEY for an unknown or revoked key, MISSING_API_KEY without", async () => {
    const gateway = await start({ acceptSampleKeys: false });
    gateway.addTenant({ tenantId: "acme", apiKey: "wg_live_acme_right" });
    const wrong = await post(gateway, "/api/v1/actions/github/list-repos", {}, { authorization: "Bearer wrong" });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({
      success: false,
      error: { code: "INVALID_API_KEY", requestId: expect.any(String) },
    });
    const missing = await post(gateway, "/api/v1/actions/github/list-repos", {}, { authorization: "" });
    expect(missing.json).toMatchObject({ error: { code: "MISSING_API_KEY" } });
    // A tenant header selects nothing: the key decides.
    const right = await post(
      gateway,
      "/api/v1/actions/github/list-repos",
      {},
      { authorization: "Bearer wg_live_acme_right", "x-waygate-tenant-id": "someone-else" },
    );
    expect(right.status).toBe(200);
    expect(gateway.calls.at(-1)).toMatchObject({ tenantId: "acme", apiKey: "wg_live_acme_right" });
    gateway.revokeKey("wg_live_acme_right");
    const revoked = await post(
      gateway,
      "/api/v1/actions/github/list-repos",
      {},
      { authorization: "Bearer wg_live_acme_right" },
    );
    expect(revoked.json).toMatchObject({ error: { code: "INVALID_API_KEY" } });
  });

  it("answers 400 VALIDATION_ERROR for a body that is not a JSON object", async () => {
    const gateway = await start();
    expect((await post(gateway, "/api/v1/actions/github/list-repos", "{nope")).status).toBe(400);
    expect((await post(gateway, "/api/v1/actions/github/list-repos", [1, 2])).status).toBe(400);
  });

  it("serves each added tenant its own data", async () => {
    const gateway = await start();
    gateway.addTenant({
      tenantId: "globex",
      apiKey: "wg_live_globex",
      datasets: {
        githubRepos: [
          {
            id: 1,
            name: "globex-only",
            full_name: "globex/globex-only",
            private: true,
            default_branch: "main",
            description: null,
          },
        ],
      },
    });
    const own = await post(
      gateway,
      "/api/v1/actions/github/list-repos",
      {},
      { authorization: "Bearer wg_live_globex" },
    );
    const shared = await post(gateway, "/api/v1/actions/github/list-repos", {});
    expect(own.json).toMatchObject({ data: [{ name: "globex-only" }] });
    expect(JSON.stringify(shared.json)).not.toContain("globex-only");
  });

  it("answers 404 ACTION_NOT_FOUND for an unknown action and records the call", async () => {
    const gateway = await start();
    const { status, json } = await post(gateway, "/api/v1/actions/slack/delete-everything", { a: 1 });
    expect(status).toBe(404);
    expect(json).toMatchObject({ error: { code: "ACTION_NOT_FOUND" } });
    expect(gateway.calls).toEqual([
      {
        integrationSlug: "slack",
        actionSlug: "delete-everything",
        tenantId: "t1",
        apiKey: sampleGatewayKey("t1"),
        input: { a: 1 },
        status: 404,
      },
    ]);
  });

  it("answers 401 CREDENTIALS_EXPIRED for the 'expired' connection", async () => {
    const gateway = await start();
    const { status, json } = await post(
      gateway,
      "/api/v1/actions/slack/list-users",
      {},
      { "x-waygate-connection-id": "expired" },
    );
    expect(status).toBe(401);
    expect(json).toMatchObject({ error: { code: "CREDENTIALS_EXPIRED" } });
  });

  it("answers scripted failures in order, then normal answers", async () => {
    const gateway = await start();
    gateway.failNext(
      { status: 429, code: "RATE_LIMITED", retryAfterMs: 1500, retryAfterHeader: "2" },
      { status: 502, code: "EXTERNAL_API_ERROR", message: "slack is down" },
      { status: 200, code: "-", body: '{"success":tr' },
    );
    const first = await post(gateway, "/api/v1/actions/slack/list-users", {});
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toBe("2");
    expect(first.json).toMatchObject({
      error: { code: "RATE_LIMITED", suggestedResolution: { retryAfterMs: 1500, retryable: true } },
    });
    const second = await post(gateway, "/api/v1/actions/slack/list-users", {});
    expect(second.json).toMatchObject({ error: { code: "EXTERNAL_API_ERROR", message: "slack is down" } });
    expect((await post(gateway, "/api/v1/actions/slack/list-users", {})).text).toBe('{"success":tr');
    expect((await post(gateway, "/api/v1/actions/slack/list-users", {})).status).toBe(200);
  });

  it("serves Graph nextLinks whose query parameters page the users", async () => {
    const gateway = await start();
    const first = await post(gateway, "/api/v1/actions/microsoft-graph/list-users", { $top: 3 });
    const data = (first.json as { data: Record<string, unknown> }).data;
    const link = new URL(String(data["@odata.nextLink"]));
    expect(link.origin).toBe("https://graph.microsoft.com");
    const second = await post(
      gateway,
      "/api/v1/actions/microsoft-graph/list-users",
      Object.fromEntries(link.searchParams),
    );
    expect(
      (second.json as { data: { value: { displayName: string }[] } }).data.value.map((u) => u.displayName),
    ).toEqual(["Grady Archie", "Isaiah Langer", "Johanna Lorenz"]);
  });
});

describe("fault injection", () => {
  /** Statuses of 200 list-users calls with distinct inputs, sent one by one. */
  async function statuses(
    faults: FaultOptions,
    order: number[] = [...Array(200).keys()],
  ): Promise<Map<number, number>> {
    const gateway = await start({ faults });
    const result = new Map<number, number>();
    for (const limit of order) {
      const { status } = await post(gateway, "/api/v1/actions/slack/list-users", { limit: limit + 1 });
      result.set(limit, status);
    }
    return result;
  }
  const faults: FaultOptions = { rate: 0.2, seed: 42, kinds: ["500", "503", "429", "truncated"], retryAfterMs: 10 };

  it("fails about the configured share of calls, with every configured kind", async () => {
    const result = await statuses(faults);
    const failed = [...result.values()].filter((s) => s !== 200).length;
    expect(failed).toBeGreaterThan(20);
    expect(failed).toBeLessThan(60);
    expect(new Set(result.values())).toEqual(new Set([200, 500, 503, 429]));
  });

  it("is deterministic for a seed, whatever order the calls arrive in", async () => {
    const forward = await statuses(faults);
    const reversed = await statuses(faults, [...Array(200).keys()].reverse());
    expect(reversed).toEqual(forward);
    const otherSeed = await statuses({ ...faults, seed: 43 });
    expect(otherSeed).not.toEqual(forward);
  });

  it("decides a repeated call afresh, so a retry can succeed", async () => {
    const gateway = await start({ faults: { rate: 0.5, seed: 7, kinds: ["500"] } });
    const outcomes: number[] = [];
    for (let i = 0; i < 20; i++) outcomes.push((await post(gateway, "/api/v1/actions/slack/list-users", {})).status);
    expect(outcomes).toContain(200);
    expect(outcomes).toContain(500);
  });

  it("sends truncated JSON with a 200 and a matching content-length", async () => {
    const gateway = await start({ faults: { rate: 1, seed: 1, kinds: ["truncated"] } });
    const { status, text, json } = await post(gateway, "/api/v1/actions/slack/list-users", {});
    expect(status).toBe(200);
    expect(json).toBeUndefined();
    expect(text.startsWith('{"success":true')).toBe(true);
  });

  it("can be switched off at run time", async () => {
    const gateway = await start({ faults: { rate: 1, seed: 1, kinds: ["500"] } });
    expect((await post(gateway, "/api/v1/actions/slack/list-users", {})).status).toBe(500);
    gateway.setFaults(undefined);
    expect((await post(gateway, "/api/v1/actions/slack/list-users", {})).status).toBe(200);
  });

  it("stops promptly while a timeout fault is hanging", async () => {
    const gateway = await startSampleGateway({ faults: { rate: 1, seed: 1, kinds: ["timeout"], timeoutMs: 60_000 } });
    const pending = fetch(`${gateway.url}/api/v1/actions/slack/list-users`, {
      method: "POST",
      headers: { authorization: `Bearer ${sampleGatewayKey("t")}` },
      body: "{}",
    }).then(
      () => "answered",
      () => "closed",
    );
    while (gateway.calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await gateway.stop();
    expect(await pending).toBe("closed");
  });

  it("reads fault settings from the environment", () => {
    expect(
      faultsFromEnv({
        SAMPLE_GATEWAY_FAULT_RATE: "0.2",
        SAMPLE_GATEWAY_FAULT_SEED: "9",
        SAMPLE_GATEWAY_FAULTS: "500,429",
      }),
    ).toEqual({ rate: 0.2, seed: 9, kinds: ["500", "429"] });
    expect(faultsFromEnv({})).toBeUndefined();
    expect(() => faultsFromEnv({ SAMPLE_GATEWAY_FAULT_RATE: "0.2", SAMPLE_GATEWAY_FAULTS: "500,boom" })).toThrow(
      /boom/,
    );
    expect(() => faultsFromEnv({ SAMPLE_GATEWAY_FAULT_RATE: "2" })).toThrow(/SAMPLE_GATEWAY_FAULT_RATE/);
  });
});

describe("datasets and sources", () => {
  it("has the demo people, channels, a deleted user and a bot", () => {
    const data = defaultDatasets();
    const names = data.slackUsers.map((u) => u.profile.real_name);
    expect(names).toEqual(expect.arrayContaining(["Derek Osgood", "Sarah Chen", "Sarah Connor"]));
    expect(data.slackUsers.some((u) => u.deleted)).toBe(true);
    expect(data.slackUsers.some((u) => u.is_bot)).toBe(true);
    expect(data.slackChannels.map((c) => c.name)).toEqual(expect.arrayContaining(["general", "random"]));
    expect(JSON.stringify(data.crmSchema).length).toBeGreaterThan(400 * 1024);
  });

  it("returns independent copies", () => {
    const a = defaultDatasets();
    a.slackUsers.pop();
    expect(defaultDatasets().slackUsers.length).toBe(a.slackUsers.length + 1);
  });

  it("generates the same synthetic users for the same seed, with unique ids", () => {
    const users = syntheticSlackUsers(10_000, 5);
    expect(new Set(users.map((u) => u.id)).size).toBe(10_000);
    expect(syntheticSlackUsers(10_000, 5)).toEqual(users);
    expect(syntheticSlackUsers(100, 6).map((u) => u.profile.real_name)).not.toEqual(
      users.slice(0, 100).map((u) => u.profile.real_name),
    );
  });

  it("ships sample sources that are valid configs for every listed integration", () => {
    expect(SAMPLE_SOURCES.map((s) => `${s.integrationId}/${s.dataType}`)).toEqual([
      "slack/users",
      "slack/channels",
      "github/repositories",
      "microsoft/users",
      "hubspot/crm_schema",
    ]);
    for (const source of SAMPLE_SOURCES) {
      const parsed = referenceDataConfigSchema.safeParse(source.referenceData);
      expect(parsed.success, `${source.integrationId}/${source.dataType}`).toBe(true);
      expect(source.referenceData.dataType).toBe(source.dataType);
    }
  });
});

interface Listing {
  success: boolean;
  data: {
    integrations: { id: string; slug: string }[];
    actions: { slug: string; metadata: { referenceData: Record<string, unknown> }; paginationConfig: unknown }[];
    connections: { isPrimary: boolean; status: string }[];
    pagination: { cursor: string | null; hasMore: boolean };
  };
}

describe("discovery listings", () => {
  async function get(gateway: SampleGateway, path: string, key = sampleGatewayKey("t1")) {
    const response = await fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: response.status, json: (await response.json()) as Listing };
  }

  it("lists the tenant's integrations with UUID ids, pages through cursors, and each tenant gets its own ids", async () => {
    const gateway = await start({ listingPageSize: 2 });
    const slugs: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { json } = await get(gateway, `/api/v1/integrations?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
      expect(json.success).toBe(true);
      for (const integration of json.data.integrations) {
        expect(integration.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        slugs.push(integration.slug);
      }
      cursor = json.data.pagination.hasMore ? json.data.pagination.cursor : null;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(slugs).toEqual(["slack", "github", "microsoft-graph", "hubspot", "legacy-crm"]);
    const other = await get(gateway, "/api/v1/integrations?limit=1", sampleGatewayKey("t2"));
    expect(other.json.data.integrations[0]?.id).not.toBe(sampleUuid("t1", "slack"));
  });

  it("lists actions with metadata.referenceData and paginationConfig, and connections with a primary", async () => {
    const gateway = await start();
    const slack = sampleUuid("t1", "slack");
    const actions = await get(gateway, `/api/v1/integrations/${slack}/actions?limit=100`);
    const users = actions.json.data.actions.find((a) => a.slug === "list-users");
    if (!users) throw new Error("no list-users action");
    expect(users.metadata.referenceData).toMatchObject({
      dataType: "users",
      syncable: true,
      extractionPath: "members[*]",
    });
    // Waygate's schema keeps only the seed's fields.
    expect(users.metadata.referenceData).not.toHaveProperty("pagination");
    expect(users.metadata.referenceData).not.toHaveProperty("deletedField");
    expect(users.paginationConfig).toMatchObject({ enabled: true, strategy: "cursor" });
    const connections = await get(gateway, `/api/v1/integrations/${slack}/connections?limit=100`);
    const list = connections.json.data.connections;
    expect(list.filter((c) => c.isPrimary)).toHaveLength(1);
    expect(list.map((c) => c.status).sort()).toEqual(["active", "active", "disabled"]);
    const unknown = await get(gateway, "/api/v1/integrations/not-there/actions");
    expect(unknown.status).toBe(404);
    const noKey = await fetch(`${gateway.url}/api/v1/integrations`);
    expect(noKey.status).toBe(401);
  });
});
