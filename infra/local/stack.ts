/**
 * The whole service on one machine (DESIGN.md, "Local stack"): dynalite with data on disk, fauxqs with the sync queue
 * and its DLQ, a poller that feeds the sync worker like Lambda's event source mapping, the planner on a timer, an
 * API Gateway-like HTTP server with the authorizer, and the sample gateway unless a real one is configured. The
 * handlers are the deployed ones (functions/*), configured through process.env exactly as the CDK stack configures
 * them. `npm start` runs it (start.ts); the e2e tests start it in-process on free ports.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { planDiscoveries } from "../../shared/discovery/schedule.js";
import { type Clock, systemClock } from "../../shared/domain/clock.js";
import { parseOrigins } from "../../shared/http/cors.js";
import { consoleUrlOf } from "../../shared/http/routes.js";
import { createLogger, type Logger } from "../../shared/log.js";
import { getRuntime, overrideRuntime, resetRuntime } from "../../shared/runtime.js";
import { createDocumentClient } from "../../shared/storage/client.js";
import { createRepositories } from "../../shared/storage/index.js";
import type { Repositories } from "../../shared/storage/ports.js";
import { runPlanner } from "../../shared/sync/plan.js";
import { DELIVERY_MAX_RECEIVES } from "../../shared/webhooks/deliver.js";
import { API_FUNCTION_TIMEOUT_MS, PLANNER_TIMEOUT_MS } from "./config.js";
import { lockDataDir } from "./data-dir-lock.js";
import { type Demo, demoBanner, ensureDemo, waitForFirstSync } from "./demo.js";
import { type LocalDynamo, startLocalDynamo } from "./dynamo-server.js";
import { localHandlers } from "./handlers.js";
import { type LocalHttpServer, startHttpServer } from "./http-server.js";
import { type PlannerTimer, startPlannerTimer } from "./planner-timer.js";
import {
  SAMPLE_DEMO_GATEWAY_KEY,
  type SampleGateway,
  type SampleGatewayOptions,
  startSampleGateway,
} from "./sample-gateway/index.js";
import { type PollerStats, type SqsPoller, startSqsPoller } from "./sqs-poller.js";
import { createQueueWithDlq, type LocalSqs, startLocalSqs } from "./sqs-server.js";
import { startTtlSweeper } from "./ttl-sweeper.js";

export const LOCAL_TABLE_NAME = "reference-data";
export const LOCAL_QUEUE_NAME = "reference-data-sync";

export interface LocalStackOptions {
  /** API port (default 3000; 0 = a free port). */
  port?: number;
  dynamoPort?: number;
  sqsPort?: number;
  sampleGatewayPort?: number;
  /** A real Waygate gateway; when set, no sample gateway is started and `demoGatewayKey` is required for the demo. */
  gatewayUrl?: string;
  /** The demo tenant's Waygate key, saved on first start (default: the sample gateway's demo key). */
  demoGatewayKey?: string;
  /** Where data is kept across restarts (default `.local`); `null` keeps everything in memory. */
  dataDir?: string | null;
  /** Seconds between planner runs (default 60). */
  scheduleSeconds?: number;
  /** The sync worker's timeout (default 300 s, as in AWS). */
  workerTimeoutSeconds?: number;
  /** Records per worker invocation (default 2, as in AWS). */
  workerBatchSize?: number;
  workerConcurrency?: number;
  /** Default 6 × the worker timeout, as AWS recommends. */
  visibilityTimeoutSeconds?: number;
  /** How long stop() waits for in-flight syncs and requests (default 30 s). */
  shutdownGraceMs?: number;
  /** Seed the demo tenant, key, sources and connections (default true). */
  seedDemo?: boolean;
  /** Options of the sample gateway (datasets, faults, latency); its port comes from above. */
  sampleGateway?: Omit<SampleGatewayOptions, "port">;
  /** Handler log level (LOG_LEVEL); default: the environment's, else info. */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** The stack's own logger. */
  log?: Logger;
  /**
   * The handlers' clock (default the system clock). Tests move it forward instead of sleeping, e.g. past the
   * one-minute throttle of manual triggers.
   */
  clock?: Clock;
  /** How long start waits for the demo's first sync before printing (default 45 s; 0 = do not wait). */
  firstSyncWaitMs?: number;
  /** Seconds between sweeps of expired rows (dynalite has no TTL; default 60). */
  ttlSweepSeconds?: number;
  /** First retry delay of a failed webhook delivery (default 30 s, doubling). */
  webhookBackoffSeconds?: number;
}

export interface LocalStack {
  /** The API base, e.g. `http://127.0.0.1:3000/api/v1`. */
  apiUrl: string;
  /** The admin console, e.g. `http://127.0.0.1:3000/console`. */
  consoleUrl: string;
  /** The demo tenant's API key (undefined with seedDemo: false). */
  apiKey: string | undefined;
  demo: Demo | undefined;
  dataDir: string | undefined;
  endpoints: { dynamodb: string; sqs: string; gateway: string };
  ports: { api: number; dynamodb: number; sqs: number; sampleGateway?: number };
  queue: { url: string; dlqUrl: string };
  /** The webhook queue (the local stand-in for the bus rule's target) and its DLQ. */
  webhookQueue: { url: string; dlqUrl: string };
  /** Where events are appended, one JSON line each (`{DATA_DIR}/events.jsonl`); undefined without a data dir. */
  eventsFile: string | undefined;
  /** The embedded sample gateway (mutable data, scripted failures), when no real gateway is configured. */
  sampleGateway: SampleGateway | undefined;
  /** Repositories on the stack's table, for tests and tools (e.g. creating another tenant's key). */
  repos: Repositories;
  /** Runs the planner now (after any run in progress). */
  runPlanner(): Promise<unknown>;
  pollerStats(): PollerStats;
  /** The text `npm start` prints: URLs, the demo key and curl commands. */
  banner(): string;
  /** Graceful: stops taking requests and messages, lets in-flight syncs finish (bounded), closes everything. */
  stop(): Promise<void>;
}

let running = false;

/**
 * Starts every part of the stack and resolves once the API answers, the demo is seeded and the first planner run
 * has enqueued what is due.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  // The handlers read process.env and keep module-level singletons: two stacks in one process would share them.
  if (running) throw new Error("A local stack is already running in this process; stop it first");
  running = true;
  const log = options.log ?? createLogger({ service: "local-stack" });
  const dataDir = options.dataDir === null ? undefined : resolve(options.dataDir ?? ".local");
  const workerTimeoutMs = (options.workerTimeoutSeconds ?? 300) * 1000;
  const graceMs = options.shutdownGraceMs ?? 30_000;
  if (options.gatewayUrl && !options.demoGatewayKey && options.seedDemo !== false) {
    running = false;
    throw new Error(
      "DEMO_GATEWAY_KEY (the demo tenant's Waygate API key) is required when GATEWAY_URL points at a real gateway",
    );
  }

  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => log.warn("cleanup", { error }));
    cleanups.length = 0;
  };
  try {
    if (dataDir) {
      const unlock = lockDataDir(dataDir);
      cleanups.push(async () => unlock());
    }
    const dynamo: LocalDynamo = await startLocalDynamo({
      port: options.dynamoPort ?? 8000,
      ...(dataDir ? { path: join(dataDir, "dynamodb") } : {}),
      tableName: LOCAL_TABLE_NAME,
    });
    cleanups.push(() => dynamo.stop());
    log.info("DynamoDB (dynalite) ready", {
      endpoint: dynamo.endpoint,
      dataDir,
      createdTable: dynamo.createdTable,
      upgradedRows: dynamo.upgradedRows,
    });

    const sqs: LocalSqs = await startLocalSqs({
      port: options.sqsPort ?? 9324,
      queueName: LOCAL_QUEUE_NAME,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? (6 * workerTimeoutMs) / 1000,
    });
    cleanups.push(() => sqs.stop());
    log.info("SQS (fauxqs) ready", { endpoint: sqs.endpoint, queueUrl: sqs.queueUrl, dlqUrl: sqs.dlqUrl });

    const consumers = await startLocalConsumers(sqs, dataDir, options.webhookBackoffSeconds);

    let sampleGateway: SampleGateway | undefined;
    const demoGatewayKey = options.demoGatewayKey ?? SAMPLE_DEMO_GATEWAY_KEY;
    if (!options.gatewayUrl) {
      sampleGateway = await startSampleGateway({
        ...options.sampleGateway,
        port: options.sampleGatewayPort ?? 8787,
      });
      const stopGateway = sampleGateway.stop.bind(sampleGateway);
      cleanups.push(stopGateway);
      log.info("sample gateway ready", { url: sampleGateway.url });
    }
    const gatewayUrl = options.gatewayUrl ?? sampleGateway?.url ?? "";

    // Before any handler is imported: they read it once, on first use.
    const restoreEnv = applyEnv({
      TABLE_NAME: LOCAL_TABLE_NAME,
      QUEUE_URL: sqs.queueUrl,
      DLQ_URL: sqs.dlqUrl,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      SQS_ENDPOINT: sqs.endpoint,
      AWS_REGION: "us-east-1",
      GATEWAY_URL: gatewayUrl,
      CURSOR_SECRET: process.env.CURSOR_SECRET || cursorSecret(dataDir),
      // Tenants' Waygate keys are encrypted under a key file kept beside the data (AWS: a KMS key).
      CREDENTIALS_KEY_FILE: credentialsKeyFile(dataDir),
      // The local stack never reads Secrets Manager or KMS.
      STACK_SECRET_ARN: undefined,
      CREDENTIALS_KMS_KEY_ID: undefined,
      ...consumers.env,
      ...(options.logLevel ? { LOG_LEVEL: options.logLevel } : {}),
    });
    resetRuntime();
    const clock = options.clock ?? systemClock;
    if (options.clock) overrideRuntime({ clock: options.clock });
    const handlers = localHandlers();
    cleanups.push(async () => {
      resetRuntime();
      restoreEnv();
    });

    const doc: DynamoDBDocumentClient = createDocumentClient({ endpoint: dynamo.endpoint });
    cleanups.push(async () => doc.destroy());
    const repos = createRepositories({ doc, tableName: LOCAL_TABLE_NAME });

    const poller: SqsPoller = startSqsPoller({
      sqs: sqs.sqs,
      queueUrl: sqs.queueUrl,
      queueArn: sqs.queueArn,
      handler: async (event, context) => (await handlers.syncWorker())(event, context),
      batchSize: options.workerBatchSize ?? 2,
      concurrency: options.workerConcurrency ?? 2,
      timeoutMs: workerTimeoutMs,
      log,
    });
    cleanups.push(async () => {
      const { drained } = await poller.stop(graceMs);
      if (!drained) {
        log.warn("some syncs were still running at shutdown; their leases expire and the planner resumes them", {
          graceMs,
        });
      }
    });

    const deliverer: SqsPoller = startSqsPoller({
      sqs: sqs.sqs,
      queueUrl: consumers.webhookQueue.url,
      queueArn: consumers.webhookQueue.arn,
      handler: async (event, context) => (await handlers.webhookDeliverer())(event, context),
      batchSize: 10,
      concurrency: 2,
      timeoutMs: 60_000,
      log,
    });
    cleanups.push(async () => void (await deliverer.stop(graceMs)));
    const sweeper = startTtlSweeper({
      doc,
      tableName: LOCAL_TABLE_NAME,
      intervalMs: (options.ttlSweepSeconds ?? 60) * 1000,
      now: () => clock.now(),
      log,
    });
    cleanups.push(() => sweeper.stop());

    const scheduleSeconds = options.scheduleSeconds ?? 60;
    const planner: PlannerTimer = startPlannerTimer({
      intervalMs: scheduleSeconds * 1000,
      handler: handlers.planner,
      timeoutMs: PLANNER_TIMEOUT_MS,
      log,
    });
    cleanups.push(() => planner.stop(graceMs));

    // Started last, so stopped first: no request can enqueue work once the worker has stopped.
    const http: LocalHttpServer = await startHttpServer({
      port: options.port ?? 3000,
      handler: handlers.api,
      authorize: handlers.authorize,
      console: handlers.console,
      // The deployed REST API caches the authorizer's answer for 60 s; so does the local one.
      authorizerCacheMs: 60_000,
      timeoutMs: API_FUNCTION_TIMEOUT_MS,
      allowedOrigins: parseOrigins(process.env.ALLOWED_ORIGINS),
      log,
    });
    cleanups.push(() => http.stop(graceMs));
    const apiUrl = `${http.url}/api/v1`;
    log.info("API ready", { apiUrl });

    const demo =
      options.seedDemo === false
        ? undefined
        : await ensureDemo({
            repos,
            apiUrl,
            gatewayKey: demoGatewayKey,
            now: () => clock.now(),
            log,
            ...(dataDir ? { dataDir } : {}),
          });
    await plannerStartupPass(log);
    const firstSyncWaitMs = options.firstSyncWaitMs ?? 45_000;
    const synced =
      demo !== undefined && firstSyncWaitMs > 0 && (await waitForFirstSync(repos, { timeoutMs: firstSyncWaitMs }));

    let stopping: Promise<void> | undefined;
    const stack: LocalStack = {
      apiUrl,
      consoleUrl: consoleUrlOf(apiUrl),
      apiKey: demo?.apiKey,
      demo,
      dataDir,
      endpoints: { dynamodb: dynamo.endpoint, sqs: sqs.endpoint, gateway: gatewayUrl },
      ports: {
        api: http.port,
        dynamodb: dynamo.port,
        sqs: sqs.port,
        ...(sampleGateway ? { sampleGateway: sampleGateway.port } : {}),
      },
      queue: { url: sqs.queueUrl, dlqUrl: sqs.dlqUrl },
      webhookQueue: { url: consumers.webhookQueue.url, dlqUrl: consumers.webhookQueue.dlqUrl },
      eventsFile: consumers.eventsFile,
      sampleGateway,
      repos,
      runPlanner: () => planner.runNow(),
      pollerStats: () => ({ ...poller.stats }),
      banner: () =>
        demo
          ? demoBanner({
              demo,
              apiUrl,
              gateway: sampleGateway ? `${gatewayUrl} (sample data)` : gatewayUrl,
              scheduleSeconds,
              dynamoPort: dynamo.port,
              synced,
              ...(dataDir ? { dataDir } : {}),
            })
          : `Reference Data Sync is running locally: ${apiUrl} (console: ${consoleUrlOf(apiUrl)})`,
      stop: () => {
        stopping ??= (async () => {
          log.info("stopping the local stack");
          await cleanup();
          running = false;
          log.info("local stack stopped");
        })();
        return stopping;
      },
    };
    return stack;
  } catch (error) {
    await cleanup();
    running = false;
    throw error;
  }
}

/**
 * The first planner run, before the timer's: it enqueues what is due (the demo's new partitions, anything that came
 * due while the stack was down) and, because fauxqs lost every message at the last stop, also takes over every
 * `queued` partition at once instead of at its requeue deadline (DESIGN.md, "Local stack").
 */
async function plannerStartupPass(log: Logger): Promise<void> {
  const runtime = getRuntime();
  if (!runtime.queue) throw new Error("QUEUE_URL is not set");
  const now = runtime.clock.now();
  const summary = await runPlanner(
    { repos: runtime.repos, queue: runtime.queue, clock: runtime.clock, log: runtime.log.child({ fn: "planner" }) },
    { now, deadline: now + PLANNER_TIMEOUT_MS / 2, reclaimQueued: true },
  );
  // Queued discoveries lost their messages too.
  const discoveries = await planDiscoveries(
    { repos: runtime.repos, queue: runtime.queue, clock: runtime.clock, log: runtime.log.child({ fn: "planner" }) },
    now,
    { reclaimQueued: true },
  );
  log.info("startup planner pass", { ...summary, discoveries });
}

/**
 * Events, webhooks and the change feed on one machine: events go to `{DATA_DIR}/events.jsonl` and to a webhook queue
 * (where the bus rule would put them in AWS) that a second poller feeds to the webhook deliverer; loopback and http
 * webhook targets are allowed.
 */
async function startLocalConsumers(sqs: LocalSqs, dataDir: string | undefined, backoffSeconds?: number) {
  const webhookQueue = await createQueueWithDlq(sqs.sqs, `${LOCAL_QUEUE_NAME}-webhooks`, {
    visibilityTimeoutSeconds: 60,
    maxReceiveCount: DELIVERY_MAX_RECEIVES,
  });
  const eventsFile = dataDir ? join(dataDir, "events.jsonl") : undefined;
  return {
    webhookQueue,
    eventsFile,
    env: {
      EVENTS_FILE: eventsFile,
      WEBHOOK_QUEUE_URL: webhookQueue.url,
      WEBHOOK_TARGETS: "loopback",
      WEBHOOK_BACKOFF_BASE_SECONDS: backoffSeconds === undefined ? undefined : String(backoffSeconds),
      EVENT_BUS_NAME: undefined,
    },
  };
}

/** Sets (or, for undefined, removes) environment variables; returns a function that puts the old values back. */
function applyEnv(values: Record<string, string | undefined>): () => void {
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  const set = (entries: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(entries)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  set(values);
  return () => set(previous);
}

/** Where the local key that encrypts tenants' Waygate keys lives: beside the data, or a fresh temporary file. */
function credentialsKeyFile(dataDir: string | undefined): string {
  if (dataDir) return join(dataDir, "credentials-key.txt");
  return join(tmpdir(), `rds-credentials-${process.pid}-${randomBytes(6).toString("hex")}.key`);
}

/**
 * The HMAC key of pagination cursors. Kept in the data directory so cursors stay valid across restarts, like a
 * secret that outlives a Lambda deployment; random per run without one.
 */
function cursorSecret(dataDir: string | undefined): string {
  if (!dataDir) return randomBytes(32).toString("base64url");
  const file = join(dataDir, "cursor-secret.txt");
  if (existsSync(file)) {
    const stored = readFileSync(file, "utf8")
      .split("\n")
      .find((line) => line.trim() !== "" && !line.startsWith("#"))
      ?.trim();
    if (stored && stored.length >= 16) return stored;
  }
  const secret = randomBytes(32).toString("base64url");
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `# HMAC key of the local stack's pagination cursors. Local only.\n${secret}\n`, { mode: 0o600 });
  return secret;
}
