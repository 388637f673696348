/**
 * The HTTP API under load (issue 7): the local stack in-process (dynalite, fauxqs, the sample gateway and the
 * API Gateway-like server with the authorizer, on free ports, data in a temporary directory), the demo tenant synced,
 * then autocannon with 50 connections for 20 s on the lookup route and on the list route. Every request goes through
 * the same path as `npm start`: HTTP server → authorizer (API key → tenant) → the api-query handler → dynalite.
 * Figures are printed beside their targets (errors: 0); timings are informational, never asserted.
 *
 * HTTP_BENCH_SECONDS and HTTP_BENCH_CONNECTIONS shorten or widen a run while developing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon, { type Result } from "autocannon";
import { DEMO_TENANT_ID } from "../../infra/local/demo.js";
import { startLocalStack } from "../../infra/local/stack.js";
import { createLogger } from "../../shared/log.js";
import type { BenchFigure } from "./figures.js";

const DURATION_SECONDS = Number(process.env.HTTP_BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.HTTP_BENCH_CONNECTIONS ?? 50);

interface Target {
  name: "lookup" | "list";
  path: string;
  /** Checks one answer before the load, so the benchmark never measures a fast 404. */
  check(body: unknown): boolean;
}

const TARGETS: Target[] = [
  {
    name: "lookup",
    path: "/integrations/slack/reference-data/users/lookup?query=sarah",
    check: (body) => ((body as { data?: { matches?: unknown[] } }).data?.matches?.length ?? 0) > 0,
  },
  {
    name: "list",
    path: "/integrations/slack/reference-data?dataType=users&limit=100",
    check: (body) => ((body as { data?: unknown[] }).data?.length ?? 0) > 0,
  },
];

/** Starts the local stack, waits for the demo data, loads each route; returns the figures. */
export async function run(): Promise<BenchFigure[]> {
  const dataDir = await mkdtemp(join(tmpdir(), "rds-http-bench-"));
  // One demo key drives every connection: the per-key limit (20/s) would answer most of them 429. The bench measures
  // the API, so the limit is lifted here (its own cost is `npm run bench -- ratelimit`).
  process.env.API_KEY_RATE_PER_SECOND ??= "1000000000";
  process.env.API_KEY_BURST ??= "1000000000";
  const stack = await startLocalStack({
    port: 0,
    dynamoPort: 0,
    sqsPort: 0,
    sampleGatewayPort: 0,
    dataDir,
    // The planner's timer stays out of the way; the start-up pass enqueues the demo's first syncs.
    scheduleSeconds: 3_600,
    firstSyncWaitMs: 60_000,
    logLevel: "error",
    log: createLogger({ service: "http-bench" }, "error"),
    shutdownGraceMs: 5_000,
  });
  try {
    const apiKey = stack.apiKey;
    if (!apiKey) throw new Error("the local stack seeded no demo key");
    const partitions = await stack.repos.partitions.listByIntegration(DEMO_TENANT_ID, "slack");
    const unsynced = partitions.filter((p) => p.lastJobStatus !== "completed");
    if (partitions.length === 0 || unsynced.length > 0) {
      throw new Error(`the demo's Slack data did not sync: ${JSON.stringify(unsynced.map((p) => p.status))}`);
    }
    const headers = { authorization: `Bearer ${apiKey}` };
    const figures: BenchFigure[] = [];
    for (const target of TARGETS) {
      const url = `${stack.apiUrl}${target.path}`;
      const probe = await fetch(url, { headers });
      const body: unknown = await probe.json();
      if (probe.status !== 200 || !target.check(body)) {
        throw new Error(`${target.name}: ${probe.status} ${JSON.stringify(body).slice(0, 300)}`);
      }
      const result = await autocannon({ url, headers, connections: CONNECTIONS, duration: DURATION_SECONDS });
      figures.push(...figuresOf(target.name, result));
    }
    return figures;
  } finally {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function figuresOf(name: Target["name"], result: Result): BenchFigure[] {
  // Connection errors (timeouts included) and any answer that is not a 2xx.
  const errors = result.errors + result.non2xx;
  return [
    {
      key: `http.${name}.requestsPerSecond`,
      value: Math.round(result.requests.average),
      unit: "req/s",
    },
    { key: `http.${name}.p99Ms`, value: result.latency.p99, unit: "ms" },
    { key: `http.${name}.errors`, value: errors, unit: "", target: "= 0", ok: errors === 0 },
  ];
}
