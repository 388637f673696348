/**
 * The demo a newcomer sees on `npm start`: a demo tenant with an API key whose Waygate key is saved through the API
 * itself (`PUT /gateway/credentials`), so the first run shows the whole path with nothing registered by hand —
 * credentials → discovery (sources and connections from the gateway) → syncs → lookups — and copy-paste curl
 * commands that work as printed.
 *
 * The key is kept in DATA_DIR/demo-key.txt so later starts can print it again: it is a local development key for a
 * local table, never a credential of a deployed stack.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { consoleUrlOf } from "../../shared/http/routes.js";
import type { Logger } from "../../shared/log.js";
import type { Repositories } from "../../shared/storage/ports.js";

export const DEMO_TENANT_ID = "demo";
const KEY_FILE = "demo-key.txt";

export interface DemoCommand {
  title: string;
  method: "GET" | "POST" | "PUT";
  /** Path and query below the API base, e.g. `/integrations/slack/reference-data/users/lookup?query=derek`. */
  path: string;
  body?: string;
}

export interface Demo {
  tenantId: string;
  apiKey: string;
  keyId: string;
  /** Whether this start created the key (a fresh data directory). */
  created: boolean;
  /** Where the key is kept, if the stack has a data directory. */
  keyFile?: string;
  commands: DemoCommand[];
}

export interface DemoOptions {
  repos: Repositories;
  /** The API base, e.g. http://127.0.0.1:3000/api/v1. */
  apiUrl: string;
  dataDir?: string;
  /** The demo tenant's Waygate key, saved on first start (the sample gateway's demo key, or a person's real one). */
  gatewayKey: string;
  now: () => number;
  log: Logger;
  /** How long to wait for the first discovery (default 30 s). */
  discoveryWaitMs?: number;
}

/**
 * Makes sure the demo tenant has a working API key and its Waygate key saved (which queues discovery), then waits
 * for that discovery; idempotent, so a start interrupted half-way finishes the job on the next start.
 */
export async function ensureDemo(options: DemoOptions): Promise<Demo> {
  const { repos, log } = options;
  const keyFile = options.dataDir ? join(options.dataDir, KEY_FILE) : undefined;

  let key = keyFile ? readKeyFile(keyFile) : undefined;
  let keyId: string | undefined;
  let created = false;
  if (key) {
    const resolved = await repos.apiKeys.resolve(key);
    if (resolved?.tenantId === DEMO_TENANT_ID) keyId = resolved.keyId;
    else {
      log.warn("the stored demo key no longer works (revoked, or the table was wiped); creating a new one", {
        keyFile,
      });
      key = undefined;
    }
  }
  if (!key || !keyId) {
    const fresh = await repos.apiKeys.create(DEMO_TENANT_ID, {
      name: "local demo key",
      scopes: ["read", "sync", "admin"],
      now: options.now(),
    });
    key = fresh.key;
    keyId = fresh.apiKey.keyId;
    created = true;
    if (keyFile && options.dataDir) {
      mkdirSync(options.dataDir, { recursive: true });
      writeFileSync(keyFile, keyFileText(key), { mode: 0o600 });
    }
  }

  const api = apiClient(options.apiUrl, key);
  const stored = await repos.tenants.getCredentials(DEMO_TENANT_ID);
  if (stored?.status !== "valid") {
    await api("PUT", "/gateway/credentials", { apiKey: options.gatewayKey });
    log.info("saved the demo tenant's gateway key; discovery queued");
  }
  await waitForDiscovery(repos, options.discoveryWaitMs ?? 30_000);
  const slack = await primaryOf(repos, "slack");
  const demo: Demo = { tenantId: DEMO_TENANT_ID, apiKey: key, keyId, created, commands: demoCommands(slack) };
  if (keyFile) demo.keyFile = keyFile;
  return demo;
}

/** Waits until the demo tenant's discovery has finished once (completed or failed). */
async function waitForDiscovery(repos: Repositories, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const state = await repos.discovery.get(DEMO_TENANT_ID);
    if (state?.status === "completed" || state?.status === "failed") return true;
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The integration whose sources call `integrationSlug`, and its primary connection (as discovery recorded them). */
export async function primaryOf(
  repos: Repositories,
  integrationSlug: string,
): Promise<{ integrationId: string; connectionId?: string } | undefined> {
  for (const { integrationId } of await repos.usage.listIntegrations(DEMO_TENANT_ID)) {
    const sources = await repos.sources.list(DEMO_TENANT_ID, integrationId);
    if (!sources.some((source) => source.integrationSlug === integrationSlug)) continue;
    const connections = await repos.connections.list(DEMO_TENANT_ID, integrationId);
    const primary = connections.find((c) => c.isPrimary && c.status === "active");
    return primary ? { integrationId, connectionId: primary.connectionId } : { integrationId };
  }
  return undefined;
}

/**
 * Waits until every demo partition has finished its first sync (or failed it), polling every `intervalMs` for at most
 * `timeoutMs`; false when some were still running, so the banner can say so instead of printing commands that would
 * find nothing yet.
 */
export async function waitForFirstSync(
  repos: Repositories,
  options: { timeoutMs: number; intervalMs?: number; now?: () => number },
): Promise<boolean> {
  const now = options.now ?? Date.now;
  const until = now() + options.timeoutMs;
  for (;;) {
    const integrations = await repos.usage.listIntegrations(DEMO_TENANT_ID);
    const partitions = (
      await Promise.all(
        integrations.map(({ integrationId }) => repos.partitions.listByIntegration(DEMO_TENANT_ID, integrationId)),
      )
    ).flat();
    const settled = partitions.every(
      (p) =>
        p.status === "paused" || (p.lastJobStatus !== undefined && p.status !== "queued" && p.status !== "syncing"),
    );
    if (settled) return true;
    if (now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}

/**
 * The commands printed after start: what discovery found, lookups (one ambiguous), a channel by `#name`, AI context,
 * trigger, status. Slack's integration ID is the UUID discovery found; naming no connection, lookup and context read
 * its primary connection (as discovery recorded it).
 */
export function demoCommands(slack: { integrationId: string; connectionId?: string } | undefined): DemoCommand[] {
  const discovery: DemoCommand = {
    title: "What discovery found in the gateway (sources, connections, problems)",
    method: "GET",
    path: "/discovery",
  };
  if (!slack) return [discovery];
  const base = `/integrations/${slack.integrationId}/reference-data`;
  return [
    discovery,
    { title: "Look up a Slack user by name", method: "GET", path: `${base}/users/lookup?query=derek` },
    { title: "An ambiguous name lists every match", method: "GET", path: `${base}/users/lookup?query=sarah` },
    { title: "Find a channel by #name", method: "GET", path: `${base}/channels/lookup?query=%23general` },
    {
      title: "AI context for an agent's preamble",
      method: "GET",
      path: `${base}/context?dataTypes=users,channels&maxTokens=600&query=sarah`,
    },
    { title: "Trigger a sync of the users", method: "POST", path: `${base}/sync`, body: '{"dataType":"users"}' },
    { title: "Sync status and recent jobs", method: "GET", path: `${base}/sync/status` },
  ];
}

/** A command as a POSIX-shell curl line. */
export function curlCommand(command: DemoCommand, apiUrl: string, apiKey: string): string {
  const parts = ["curl -s"];
  if (command.method !== "GET") parts.push(`-X ${command.method}`);
  parts.push(`-H "Authorization: Bearer ${apiKey}"`);
  if (command.body !== undefined) {
    parts.push(`-H "Content-Type: application/json"`, `-d '${command.body.replaceAll("'", `'\\''`)}'`);
  }
  parts.push(`"${apiUrl}${command.path}"`);
  return parts.join(" ");
}

/** The text printed once the stack is up. */
export function demoBanner(input: {
  demo: Demo;
  apiUrl: string;
  gateway: string;
  dataDir?: string;
  scheduleSeconds: number;
  /** The embedded DynamoDB's port: `npm run api-key` needs it when it is not the default. */
  dynamoPort: number;
  /** Whether the first sync had finished when the banner was printed. */
  synced: boolean;
}): string {
  const { demo, apiUrl } = input;
  const lines = [
    "",
    "Reference Data Sync is running locally.",
    "",
    `  API             ${apiUrl}   (OpenAPI: ${apiUrl}/openapi.json)`,
    `  Console         ${consoleUrlOf(apiUrl)}   (paste the demo API key there)`,
    `  Gateway         ${input.gateway}`,
    `  Data            ${input.dataDir ?? "in memory (lost on exit)"}`,
    `  Planner         every ${input.scheduleSeconds} s`,
    "",
    `  Demo tenant     ${demo.tenantId}`,
    `  Demo API key    ${demo.apiKey}${demo.created ? "   (new)" : ""}`,
    demo.keyFile ? `                  kept in ${demo.keyFile} - a local development key, never use it elsewhere` : "",
    "",
    input.synced
      ? "The first sync has finished (`sync/status` below shows how it went). Try:"
      : "The first sync is still running (see the logs); in a few seconds, try:",
    "",
  ];
  for (const command of demo.commands) {
    lines.push(`  # ${command.title}`, `  ${curlCommand(command, apiUrl, demo.apiKey)}`, "");
  }
  lines.push(
    "  # Another tenant's key (sees none of the demo data)",
    `  ${input.dynamoPort === 8000 ? "" : `DYNAMODB_PORT=${input.dynamoPort} `}npm run api-key -- create --tenant acme --scopes read,sync,admin`,
    "",
    "Ctrl-C stops the stack; data is kept for the next `npm start`.",
    "",
  );
  return lines.filter((line, index, all) => !(line === "" && all[index - 1] === "")).join("\n");
}

function readKeyFile(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  return readFileSync(path, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line !== "" && !line.startsWith("#"));
}

function keyFileText(key: string): string {
  return [
    `# Demo API key of the local stack (\`npm start\`), tenant "${DEMO_TENANT_ID}".`,
    "# LOCAL ONLY: it opens nothing but the local table under this directory. It is kept in plain text so later",
    "# starts can print it again. Never use it for anything else; delete this directory to start afresh.",
    key,
    "",
  ].join("\n");
}

/** Calls the local API with the demo key; a non-2xx answer is an error that quotes the envelope. */
function apiClient(apiUrl: string, key: string) {
  return async (method: "PUT" | "POST", path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
    return text === "" ? undefined : JSON.parse(text);
  };
}
