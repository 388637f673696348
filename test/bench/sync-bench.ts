/**
 * Sync engine figures (issue 3 targets). dynalite, fauxqs and the sample gateway run in a child process, so the RSS
 * measured here is the worker's own, as in a Lambda. Every DynamoDB request goes through a counting middleware on the
 * DocumentClient, which also asks for ReturnConsumedCapacity TOTAL (dynalite reports it).
 *
 * - freshSync: a first sync of 10,000 Slack users (pages of 1,000): items per BatchWriteItem, items per second.
 * - unchangedResync: the same sync again: item writes (= 0), the worker's write requests (<= 5; the planner's claim and
 *   pending job add two more, reported as writeRequestsWithPlanning), read units per 100 items (<= 1).
 * - freshSync100k: a first sync of 100,000 users: items per second and the peak RSS (<= 512 MB).
 * - planner: 100,000 partitions (seeded by BatchWriteItem, no gateway) of which 1,000 are due: items read (< 1,500),
 *   SendMessageBatch calls (<= 100), wall time.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { sampleGatewayKey } from "../../infra/local/sample-gateway/index.js";
import { iso, systemClock } from "../../shared/domain/clock.js";
import type { Partition } from "../../shared/domain/entities.js";
import type { PartitionRef } from "../../shared/domain/ids.js";
import { sourceInputSchema } from "../../shared/domain/source-config.js";
import { ulid } from "../../shared/domain/ulid.js";
import { createGatewayClient } from "../../shared/gateway/client.js";
import { createLogger } from "../../shared/log.js";
import {
  batchWriteAll,
  createDocumentClient,
  createRepositories,
  createTableInput,
  keys,
  type WriteRequest,
} from "../../shared/storage/index.js";
import type { Repositories } from "../../shared/storage/ports.js";
import { ensurePartitionsFor } from "../../shared/sync/partitions.js";
import { runPlanner } from "../../shared/sync/plan.js";
import { runSync, type SyncOutcome } from "../../shared/sync/run-sync.js";
import { createSqsSyncQueue, type SyncQueue } from "../../shared/sync/sync-queue.js";
import type { BenchFigure } from "./figures.js";

const silent = createLogger({}, "silent");

// ----------------------------------------------------------------------------------------------- server process

interface ServerInfo {
  dynamoEndpoint: string;
  sqsEndpoint: string;
  gatewayUrl: string;
}

type ToServer = { id: number; cmd: "users"; count: number; seed: number } | { id: number; cmd: "stop" };

/** Runs in the child: the servers the benchmark talks to, kept out of the measured process. */
async function serveForBenchmark(): Promise<void> {
  const [{ default: dynalite }, { startFauxqs }, gatewayModule] = await Promise.all([
    import("dynalite"),
    import("fauxqs"),
    import("../../infra/local/sample-gateway/index.js"),
  ]);
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => dynamo.listen(0, "127.0.0.1", resolve));
  const address = dynamo.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const sqs = await startFauxqs({ port: 0, logger: false });
  const gateway = await gatewayModule.startSampleGateway({ faults: { rate: 0, seed: 1 } });
  const send = (message: unknown) => process.send?.(message);
  process.on("message", async (message: ToServer) => {
    if (message.cmd === "users") {
      gateway.data.slackUsers = gatewayModule.syntheticSlackUsers(message.count, message.seed);
      send({ id: message.id, ok: true });
    } else if (message.cmd === "stop") {
      await gateway.stop();
      await sqs.stop();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
      send({ id: message.id, ok: true });
      process.exit(0);
    }
  });
  const info: ServerInfo = {
    dynamoEndpoint: `http://127.0.0.1:${port}`,
    sqsEndpoint: sqs.address,
    gatewayUrl: gateway.url,
  };
  send({ ready: info });
}

interface ServerProcess extends ServerInfo {
  users(count: number, seed: number): Promise<void>;
  stop(): Promise<void>;
}

async function startServerProcess(): Promise<ServerProcess> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, SYNC_BENCH_SERVERS: "1", SAMPLE_GATEWAY_FAULT_RATE: "0" },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  let nextId = 1;
  const pending = new Map<number, () => void>();
  const info = await new Promise<ServerInfo>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`benchmark servers exited with ${code}`)));
    child.on("message", (message: { ready?: ServerInfo; id?: number }) => {
      if (message.ready) resolve(message.ready);
      if (message.id !== undefined) pending.get(message.id)?.();
    });
  });
  child.removeAllListeners("exit");
  const call = (message: Omit<ToServer, "id"> & { cmd: ToServer["cmd"] }) =>
    new Promise<void>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ ...message, id });
    });
  return {
    ...info,
    users: (count, seed) => call({ cmd: "users", count, seed } as Omit<ToServer, "id">),
    async stop() {
      await Promise.race([call({ cmd: "stop" }), new Promise((resolve) => setTimeout(resolve, 5_000))]);
      child.kill();
    },
  };
}

// ----------------------------------------------------------------------------------------------- request counting

export interface Counters {
  requests: Record<string, number>;
  batchWriteEntries: number;
  itemRowWrites: number;
  readUnits: number;
  itemsRead: number;
}

export const emptyCounters = (): Counters => ({
  requests: {},
  batchWriteEntries: 0,
  itemRowWrites: 0,
  readUnits: 0,
  itemsRead: 0,
});

const WRITE_COMMANDS = ["PutCommand", "UpdateCommand", "DeleteCommand", "BatchWriteCommand"];
const READ_COMMANDS = ["GetCommand", "QueryCommand", "BatchGetCommand", "ScanCommand"];

const skOf = (key: unknown): string => {
  const sk = (key as { SK?: unknown } | undefined)?.SK;
  if (typeof sk === "string") return sk;
  return typeof (sk as { S?: unknown } | undefined)?.S === "string" ? (sk as { S: string }).S : "";
};

/** Counts every DocumentClient request; the counters object can be swapped between scenarios. */
export function countRequests(doc: DynamoDBDocumentClient): { current: Counters } {
  const holder = { current: emptyCounters() };
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName).replace("ItemCommand", "Command");
      const counters = holder.current;
      const input = args.input as Record<string, unknown>;
      input.ReturnConsumedCapacity = "TOTAL";
      counters.requests[name] = (counters.requests[name] ?? 0) + 1;
      if (name === "BatchWriteCommand") {
        for (const entries of Object.values((input.RequestItems ?? {}) as Record<string, WriteRequest[]>)) {
          counters.batchWriteEntries += entries.length;
          for (const entry of entries) {
            const key = "PutRequest" in entry ? entry.PutRequest.Item : entry.DeleteRequest.Key;
            if (skOf(key).startsWith("ITEM#")) counters.itemRowWrites++;
          }
        }
      } else if (
        (name === "PutCommand" || name === "UpdateCommand") &&
        skOf(input.Item ?? input.Key).startsWith("ITEM#")
      ) {
        counters.itemRowWrites++;
      }
      const result = await next(args);
      if (READ_COMMANDS.includes(name)) {
        const output = result.output as {
          ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[];
          Item?: unknown;
          ScannedCount?: number;
          Count?: number;
          Responses?: Record<string, unknown[]>;
        };
        const capacity = output.ConsumedCapacity;
        for (const entry of Array.isArray(capacity) ? capacity : capacity ? [capacity] : []) {
          counters.readUnits += entry.CapacityUnits ?? 0;
        }
        if (name === "GetCommand") counters.itemsRead += output.Item ? 1 : 0;
        else if (name === "BatchGetCommand") {
          for (const rows of Object.values(output.Responses ?? {})) counters.itemsRead += rows.length;
        } else counters.itemsRead += output.ScannedCount ?? output.Count ?? 0;
      }
      return result;
    },
    { step: "initialize", name: "benchCounter" },
  );
  return holder;
}

const writeRequests = (c: Counters) => WRITE_COMMANDS.reduce((sum, name) => sum + (c.requests[name] ?? 0), 0);

// ----------------------------------------------------------------------------------------------- scenarios

interface Bench {
  servers: ServerProcess;
  doc: DynamoDBDocumentClient;
  counters: { current: Counters };
  sqs: SQSClient;
}

async function newTable(endpoint: string, name: string): Promise<string> {
  const raw = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  await raw.send(new CreateTableCommand(createTableInput(name)));
  await waitUntilTableExists({ client: raw, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.2 }, { TableName: name });
  raw.destroy();
  return name;
}

const unusedQueue: SyncQueue = {
  async send() {
    throw new Error("the benchmark budget never runs out: no continuation expected");
  },
};

async function seedUsersPartition(repos: Repositories): Promise<PartitionRef> {
  const now = Date.now();
  const tenantId = "bench";
  await repos.sources.put(
    tenantId,
    "slack",
    "users",
    sourceInputSchema.parse({
      integrationSlug: "slack",
      actionSlug: "list-users",
      referenceData: {
        dataType: "users",
        extractionPath: "$.members[*]",
        nameField: "profile.real_name",
        lookupFields: ["profile.real_name", "name", "profile.email"],
        metadataFields: ["profile.email", "name", "is_bot", "is_admin"],
        deletedField: "deleted",
        pagination: {
          strategy: "cursor",
          cursorPath: "response_metadata.next_cursor",
          cursorParam: "cursor",
          limitParam: "limit",
          pageSize: 1000,
        },
      },
    }),
    now,
  );
  await repos.connections.enroll(tenantId, "slack", "default", now);
  await ensurePartitionsFor(repos, { tenantId, integrationId: "slack" }, now);
  return { tenantId, integrationId: "slack", connectionId: "default", dataType: "users" };
}

/**
 * One sync the way production runs it: the planner's part (claim, pending job) and then the worker's, with the
 * request counters switched between them so each side's cost can be reported.
 */
async function syncOnce(
  bench: Bench,
  repos: Repositories,
  ref: PartitionRef,
): Promise<{ outcome: SyncOutcome; planning: Counters; worker: Counters }> {
  const gateway = createGatewayClient({
    baseUrl: bench.servers.gatewayUrl,
    apiKey: async (tenantId) => ({ apiKey: sampleGatewayKey(tenantId), version: "sample" }),
  });
  const planning = emptyCounters();
  bench.counters.current = planning;
  const now = Date.now();
  const jobId = ulid(now);
  await repos.partitions.claim(ref, { jobId, now, requeueDeadline: now + 900_000 });
  await repos.jobs.create({ ref, jobId, trigger: "schedule", mode: "full", now });
  const worker = emptyCounters();
  bench.counters.current = worker;
  const outcome = await runSync(
    { repos, gateway, queue: unusedQueue, clock: systemClock, log: silent },
    { v: 1, kind: "sync", ...ref, trigger: "schedule", jobId },
    { remainingMs: () => 900_000, invocationId: `bench-${now}` },
  );
  if (outcome.status !== "completed") throw new Error(`sync did not complete: ${JSON.stringify(outcome)}`);
  return { outcome, planning, worker };
}

async function freshAndUnchanged(bench: Bench): Promise<BenchFigure[]> {
  const count = 10_000;
  await bench.servers.users(count, 7);
  const tableName = await newTable(bench.servers.dynamoEndpoint, `bench-sync-${Date.now()}`);
  const repos = createRepositories({ doc: bench.doc, tableName });
  const ref = await seedUsersPartition(repos);

  const started = performance.now();
  const { worker: fresh } = await syncOnce(bench, repos, ref);
  const freshSeconds = (performance.now() - started) / 1000;
  progress(`freshSync: ${count} items in ${freshSeconds.toFixed(1)} s`);
  const batchWrites = fresh.requests.BatchWriteCommand ?? 0;
  const perBatch = batchWrites === 0 ? 0 : fresh.batchWriteEntries / batchWrites;

  const { outcome: resync, planning, worker: unchanged } = await syncOnce(bench, repos, ref);
  if (resync.status !== "completed" || resync.counts.itemsFound !== count) {
    throw new Error("resync saw a different dataset");
  }

  return [
    {
      key: "freshSync.itemsPerBatchWrite",
      value: round(perBatch, 2),
      unit: "items",
      target: ">= 24",
      ok: perBatch >= 24,
    },
    { key: "freshSync.itemsPerSecond", value: Math.round(count / freshSeconds), unit: "items/s" },
    {
      key: "unchangedResync.itemWrites",
      value: unchanged.itemRowWrites,
      unit: "items",
      target: "= 0",
      ok: unchanged.itemRowWrites === 0,
    },
    {
      key: "unchangedResync.writeRequests",
      value: writeRequests(unchanged),
      unit: "requests",
      target: "<= 5",
      ok: writeRequests(unchanged) <= 5,
    },
    {
      key: "unchangedResync.writeRequestsWithPlanning",
      value: writeRequests(unchanged) + writeRequests(planning),
      unit: "requests",
    },
    {
      key: "unchangedResync.readUnitsPer100Items",
      value: round(unchanged.readUnits / (count / 100), 3),
      unit: "RCU",
      target: "<= 1",
      ok: unchanged.readUnits / (count / 100) <= 1,
    },
  ];
}

async function fresh100k(bench: Bench): Promise<BenchFigure[]> {
  const count = 100_000;
  await bench.servers.users(count, 8);
  const tableName = await newTable(bench.servers.dynamoEndpoint, `bench-sync100k-${Date.now()}`);
  const repos = createRepositories({ doc: bench.doc, tableName });
  const ref = await seedUsersPartition(repos);
  global.gc?.();
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  const started = performance.now();
  try {
    await syncOnce(bench, repos, ref);
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  progress(`freshSync100k: ${count} items in ${seconds.toFixed(1)} s`);
  peak = Math.max(peak, process.memoryUsage.rss());
  const peakMb = peak / 1024 / 1024;
  return [
    { key: "freshSync100k.itemsPerSecond", value: Math.round(count / seconds), unit: "items/s" },
    { key: "freshSync100k.peakRssMb", value: Math.round(peakMb), unit: "MB", target: "<= 512", ok: peakMb <= 512 },
  ];
}

async function planner(bench: Bench): Promise<BenchFigure[]> {
  const total = 100_000;
  const due = 1_000;
  const tableName = await newTable(bench.servers.dynamoEndpoint, `bench-planner-${Date.now()}`);
  const repos = createRepositories({ doc: bench.doc, tableName });
  const now = Date.now();
  // 500 tenants × 100 connections × 2 data types; every 100th partition is due, the rest later today.
  const requests: WriteRequest[] = [];
  for (let n = 0; n < total; n++) {
    const ref: PartitionRef = {
      tenantId: `tenant-${Math.floor(n / 200)}`,
      integrationId: "slack",
      connectionId: `conn-${Math.floor(n / 2) % 100}`,
      dataType: n % 2 === 0 ? "users" : "channels",
    };
    const isDue = n % (total / due) === 0;
    // Not-due ones start an hour out, so a slow seeding never makes them due before the planner runs.
    const dueAt = iso(isDue ? now - 1_000 - (n % 997) * 1_000 : now + 3_600_000 + (n % 86_000) * 1_000);
    const partition: Partition = {
      ...ref,
      status: "idle",
      syncType: "list",
      version: 0,
      manifestChunks: 0,
      objectChunks: 0,
      itemCount: 0,
      nextSyncAt: dueAt,
      consecutiveFailures: 0,
      createdAt: iso(now),
      updatedAt: iso(now),
    };
    requests.push({
      PutRequest: { Item: { ...keys.partition(ref), ...keys.due(ref, dueAt), entity: "partition", ...partition } },
    });
  }
  await batchWriteAll(bench.doc, tableName, requests, { concurrency: 8 });
  progress(`planner: seeded ${total} partitions`);

  const { QueueUrl } = await bench.sqs.send(new CreateQueueCommand({ QueueName: `bench-planner-${Date.now()}` }));
  const queue = createSqsSyncQueue(bench.sqs, QueueUrl ?? "");
  bench.counters.current = emptyCounters();
  const started = performance.now();
  const summary = await runPlanner(
    { repos, queue, clock: systemClock, log: silent },
    { now: Date.now(), deadline: Date.now() + 600_000 },
  );
  const wallMs = performance.now() - started;
  if (summary.enqueued !== due) throw new Error(`planner enqueued ${summary.enqueued} of ${due}`);
  const read = bench.counters.current.itemsRead;
  return [
    { key: "planner.itemsRead", value: read, unit: "items", target: "< 1,500", ok: read < 1_500 },
    {
      key: "planner.sendBatchCalls",
      value: summary.sendBatchCalls,
      unit: "calls",
      target: "<= 100",
      ok: summary.sendBatchCalls <= 100,
    },
    { key: "planner.wallMs", value: Math.round(wallMs), unit: "ms" },
  ];
}

const benchStarted = performance.now();
function progress(message: string): void {
  process.stderr.write(`  … ${((performance.now() - benchStarted) / 1000).toFixed(1)} s ${message}\n`);
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The benchmark entry point (test/bench/run.ts). */
export async function run(): Promise<BenchFigure[]> {
  const servers = await startServerProcess();
  const doc = createDocumentClient({ endpoint: servers.dynamoEndpoint });
  const counters = countRequests(doc);
  const sqs = new SQSClient({
    endpoint: servers.sqsEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  const bench: Bench = { servers, doc, counters, sqs };
  try {
    return [...(await freshAndUnchanged(bench)), ...(await fresh100k(bench)), ...(await planner(bench))];
  } finally {
    doc.destroy();
    sqs.destroy();
    await servers.stop();
  }
}

if (process.env.SYNC_BENCH_SERVERS === "1") {
  await serveForBenchmark();
}
