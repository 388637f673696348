/**
 * The one sync test harness: the sync pipeline on real protocols — dynalite, fauxqs and the sample gateway over HTTP
 * on 127.0.0.1, started by the test file (`startServers`) — with a fresh table and queue pair per test, and a driver
 * that plays Lambda's SQS event source mapping against the real worker service (receive a batch, run processSyncBatch,
 * delete what succeeded, make failed or crashed batches visible again). A crash is a SimulatedCrash thrown from a hook
 * or a gateway wrapper: nothing of the invocation is cleaned up, as when a Lambda is killed.
 *
 * Two views over the same parts:
 * - `createEnv`, the sync engine's suite (test/integration/sync): a clock at real time plus an offset the test moves
 *   (so SQS's SentTimestamp and the engine's clock stay comparable), a recording queue, one invocation at a time with a
 *   page budget. Nothing sleeps: gateway backoff advances the offset.
 * - `freshWorld`, the reliability suite (test/integration/reliability): a manual clock, seeded jitter, the planner,
 *   concurrent batches, and crashed batches redelivered after the dead lease expired (or lost).
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { z } from "zod";
import {
  mulberry32,
  SAMPLE_SOURCES,
  type SampleGateway,
  type SampleGatewayOptions,
  sampleGatewayKey,
  startSampleGateway,
} from "../../infra/local/sample-gateway/index.js";
import type { KeyCipher } from "../../shared/credentials/cipher.js";
import { createTenantKeyProvider } from "../../shared/credentials/key-provider.js";
import type { Item, Job, Partition } from "../../shared/domain/entities.js";
import type { PartitionRef } from "../../shared/domain/ids.js";
import {
  type ReferenceDataConfigInput,
  type SourceInput,
  sourceInputSchema,
} from "../../shared/domain/source-config.js";
import type { QueueMessage, SyncMessage } from "../../shared/domain/sync-message.js";
import type { EventPublisher } from "../../shared/events/events.js";
import {
  createGatewayClient,
  type GatewayClient,
  type GatewayClientOptions,
  type TenantKeyProvider,
} from "../../shared/gateway/client.js";
import { createLogger, type Logger } from "../../shared/log.js";
import { createDocumentClient } from "../../shared/storage/client.js";
import { createRepositories } from "../../shared/storage/index.js";
import { keys } from "../../shared/storage/keys.js";
import type { Manifest, Repositories } from "../../shared/storage/ports.js";
import { ensurePartitionsFor } from "../../shared/sync/partitions.js";
import { type PlanInput, type PlannerOptions, type PlannerSummary, runPlanner } from "../../shared/sync/plan.js";
import {
  createSqsDeadLetterQueue,
  processSyncBatch,
  type QueueRecord,
  type RecordResult,
  type WorkerDeps,
} from "../../shared/sync/process-batch.js";
import {
  DEFAULT_SYNC_OPTIONS,
  type InvocationContext,
  SimulatedCrash,
  type SyncEngineOptions,
  type SyncHooks,
} from "../../shared/sync/run-sync.js";
import { createSqsSyncQueue, type SendOptions, type SyncQueue } from "../../shared/sync/sync-queue.js";
import { startDynamo, type TestDynamo } from "./dynamo.js";
import { type ManualClock, manualClock, type TestClock, testClock } from "./reliability/clock.js";
import { startSqs, type TestSqs } from "./sqs.js";

export const TENANT = "acme";

/** A source as a tenant would PUT it (defaults not yet applied). */
export type SourceSpec = z.input<typeof sourceInputSchema>;

/** Source override: the sample Slack users paged by cursor, `pageSize` per page. */
export const slackCursorPages = (pageSize: number) => ({
  pagination: {
    strategy: "cursor" as const,
    cursorPath: "response_metadata.next_cursor",
    cursorParam: "cursor",
    limitParam: "limit",
    pageSize,
  },
});

export interface Servers {
  dynamo: TestDynamo;
  sqs: TestSqs;
  gateway: SampleGateway;
  stop(): Promise<void>;
}

/** dynalite, fauxqs and the sample gateway on free loopback ports. */
export async function startServers(gatewayOptions: SampleGatewayOptions = {}): Promise<Servers> {
  const [dynamo, sqs, gateway] = await Promise.all([startDynamo(), startSqs(), startSampleGateway(gatewayOptions)]);
  return {
    dynamo,
    sqs,
    gateway,
    async stop() {
      await Promise.all([dynamo.stop(), sqs.stop(), gateway.stop()]);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The parts both views share: the queue driver, seeding, reads.

/** Lambda's SQS event source mapping, by hand: receive, run the worker service, delete or make visible again. */
interface QueueDriver {
  receive(max: number): Promise<Message[]>;
  remove(message: Message): Promise<unknown>;
  release(message: Message): Promise<unknown>;
  /**
   * Runs one batch through processSyncBatch: deletes what succeeded and makes batch item failures visible again.
   * A SimulatedCrash leaves the messages in flight (`crashed`): the caller decides what SQS does with them.
   */
  run(
    deps: WorkerDeps,
    messages: Message[],
    invocation: InvocationContext,
    sentAtOffset?: number,
  ): Promise<{ crashed: false; results: RecordResult[]; retried: number } | { crashed: true }>;
  /** Messages on the DLQ with their reason attribute; `take` deletes them (and reads until it is empty). */
  deadLetters(take: boolean): Promise<{ body: string; reason: string | undefined }[]>;
}

function queueDriver(sqs: SQSClient, queueUrl: string, dlqUrl: string): QueueDriver {
  const driver: QueueDriver = {
    async receive(max) {
      const received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
      );
      return received.Messages ?? [];
    },
    remove: (message) =>
      sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle })),
    release: (message) =>
      sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      ),
    async run(deps, messages, invocation, sentAtOffset = 0) {
      const records: QueueRecord[] = messages.map((message) => {
        const sentAt = Number(message.Attributes?.SentTimestamp);
        const record: QueueRecord = { messageId: message.MessageId ?? "", body: message.Body ?? "" };
        if (Number.isFinite(sentAt)) record.sentAt = sentAt + sentAtOffset;
        return record;
      });
      try {
        const { results, batchItemFailures } = await processSyncBatch(deps, records, invocation);
        const failed = new Set(batchItemFailures.map((failure) => failure.itemIdentifier));
        for (const message of messages) {
          await (failed.has(message.MessageId ?? "") ? driver.release(message) : driver.remove(message));
        }
        return { crashed: false, results, retried: failed.size };
      } catch (error) {
        if (!(error instanceof SimulatedCrash)) throw error;
        return { crashed: true };
      }
    },
    async deadLetters(take) {
      const letters: { body: string; reason: string | undefined }[] = [];
      for (;;) {
        const received = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: dlqUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            MessageAttributeNames: ["All"],
          }),
        );
        const messages = received.Messages ?? [];
        for (const message of messages) {
          letters.push({ body: message.Body ?? "", reason: message.MessageAttributes?.reason?.StringValue });
          if (take)
            await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: message.ReceiptHandle }));
        }
        if (!take || messages.length === 0) return letters;
      }
    },
  };
  return driver;
}

/** Saves the sources, enrolls the connections and creates their partitions (due now); returns every partition. */
async function seedPartitions(
  repos: Repositories,
  input: { tenantId: string; integrationId: string; sources: SourceInput[]; connections: string[] },
  now: number,
): Promise<PartitionRef[]> {
  const { tenantId, integrationId } = input;
  for (const source of input.sources) {
    await repos.sources.put(tenantId, integrationId, source.referenceData.dataType, source, now);
  }
  for (const connectionId of input.connections)
    await repos.connections.enroll(tenantId, integrationId, connectionId, now);
  await ensurePartitionsFor(repos, { tenantId, integrationId }, now);
  return input.connections.flatMap((connectionId) =>
    input.sources.map((source) => ({ tenantId, integrationId, connectionId, dataType: source.referenceData.dataType })),
  );
}

async function mustGetPartition(repos: Repositories, ref: PartitionRef): Promise<Partition> {
  const partition = await repos.partitions.get(ref);
  if (!partition) throw new Error(`no partition ${JSON.stringify(ref)}`);
  return partition;
}

/** Every job of an integration matching `filter`, newest first. */
async function listJobs(
  repos: Repositories,
  tenantId: string,
  integrationId: string,
  filter: { connectionId?: string; dataType?: string } = {},
): Promise<Job[]> {
  const jobs: Job[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await repos.jobs.list(tenantId, integrationId, {
      ...filter,
      limit: 100,
      ...(startKey ? { startKey } : {}),
    });
    jobs.push(...page.items);
    startKey = page.nextKey;
  } while (startKey);
  return jobs;
}

// ---------------------------------------------------------------------------------------------------------------
// createEnv: the sync engine's suite

/** A queue that records every send (and its delay) and forwards it without the delay, so tests need not wait. */
export interface RecordingQueue extends SyncQueue {
  sends: { messages: QueueMessage[]; options: SendOptions }[];
}

function recordingQueue(inner: SyncQueue): RecordingQueue {
  const sends: RecordingQueue["sends"] = [];
  return {
    sends,
    async send(messages, options = {}) {
      sends.push({ messages, options });
      return inner.send(messages);
    },
  };
}

export interface Invocation {
  /** Pages this invocation may process before its remaining time drops under the margin. */
  pageBudget?: number;
  hooks?: SyncHooks;
}

export interface Env {
  servers: Servers;
  tableName: string;
  repos: Repositories;
  clock: TestClock;
  queue: RecordingQueue;
  queueUrl: string;
  dlqUrl: string;
  worker(invocation?: Invocation): WorkerDeps & { remainingMs(): number; invocationId: string };
  /** Registers sources (sample ones by default) and the `default` connection, and creates their partitions. */
  seed(options: {
    integrationId: string;
    dataTypes?: string[];
    tenantId?: string;
    connections?: string[];
    override?: Partial<ReferenceDataConfigInput>;
  }): Promise<PartitionRef[]>;
  /** Sends an on-demand (jobless) sync message through SQS. */
  request(ref: PartitionRef, extra?: Partial<SyncMessage>): Promise<void>;
  /** Delivers queue batches to the worker until the queue is empty; returns every record's result. */
  drain(
    invocation?: Invocation | ((n: number) => Invocation),
  ): Promise<{ results: RecordResult[]; invocations: number; crashed: number }>;
  /** One batch (at most `max` messages) to one invocation; a SimulatedCrash leaves them to reappear. */
  deliverOnce(
    invocation?: Invocation,
    max?: number,
  ): Promise<{ results: RecordResult[]; received: number; crashed: boolean }>;
  partition(ref: PartitionRef): Promise<Partition>;
  jobs(ref: PartitionRef): Promise<Job[]>;
  items(ref: PartitionRef): Promise<Map<string, Item>>;
  /** Messages waiting in the DLQ, with their reason attribute. */
  deadLetters(): Promise<{ body: string; reason: string | undefined }[]>;
}

const silent = createLogger({}, "silent");
let invocationCounter = 0;

/** A fresh table and queue pair over the running servers. */
export async function createEnv(
  servers: Servers,
  engine: Partial<SyncEngineOptions> = {},
  gatewayOptions: Partial<GatewayClientOptions> & { storedKeys?: KeyCipher } = {},
  extra: { events?: EventPublisher } = {},
): Promise<Env> {
  const tableName = await servers.dynamo.createTable("sync");
  const { queueUrl, dlqUrl } = await servers.sqs.createQueues("sync");
  const repos = createRepositories({ doc: servers.dynamo.doc, tableName, retry: { sleep: async () => {} } });
  const clock = testClock();
  const queue = recordingQueue(createSqsSyncQueue(servers.sqs.sqs, queueUrl, { sleep: async () => {} }));
  // By default each tenant calls with its sample-gateway key; with `storedKeys` the keys come from the tenants'
  // stored, encrypted credentials, exactly as in the deployed worker.
  const { storedKeys, ...clientOptions } = gatewayOptions;
  const apiKey: TenantKeyProvider = storedKeys
    ? createTenantKeyProvider({ tenants: repos.tenants, cipher: storedKeys, clock })
    : async (tenantId) => ({ apiKey: sampleGatewayKey(tenantId), version: "sample" });
  const gateway = createGatewayClient({
    baseUrl: servers.gateway.url,
    apiKey,
    clock,
    sleep: async (ms) => clock.advance(ms),
    random: () => 0.5,
    maxAttempts: 3,
    requestTimeoutMs: 5_000,
    ...clientOptions,
  });
  const deadLetters = createSqsDeadLetterQueue(servers.sqs.sqs, dlqUrl);

  const worker: Env["worker"] = (invocation = {}) => {
    let pages = 0;
    const budget = invocation.pageBudget ?? Number.POSITIVE_INFINITY;
    const hooks: SyncHooks = {
      afterPage: async (info) => {
        pages++;
        await invocation.hooks?.afterPage?.(info);
      },
    };
    return {
      repos,
      gateway,
      discovery: { gateway },
      queue,
      clock,
      log: silent,
      deadLetters,
      ...(extra.events ? { events: extra.events } : {}),
      options: { random: () => 0.5, ...engine },
      hooks,
      remainingMs: () => (pages >= budget ? 1_000 : 900_000),
      invocationId: `inv-${++invocationCounter}`,
    };
  };

  const driver = queueDriver(servers.sqs.sqs, queueUrl, dlqUrl);
  const deliverOnce: Env["deliverOnce"] = async (invocation = {}, max = 10) => {
    const messages = await driver.receive(max);
    if (messages.length === 0) return { results: [], received: 0, crashed: false };
    const deps = worker(invocation);
    // SentTimestamp is real time; the engine's clock runs `offset` ahead.
    const ran = await driver.run(deps, messages, deps, clock.offset);
    if (!ran.crashed) return { results: ran.results, received: messages.length, crashed: false };
    // The process died: its messages come back once their visibility timeout ends (here: at once).
    for (const message of messages) await driver.release(message);
    return { results: [], received: messages.length, crashed: true };
  };

  const env: Env = {
    servers,
    tableName,
    repos,
    clock,
    queue,
    queueUrl,
    dlqUrl,
    worker,
    async seed({ integrationId, dataTypes, tenantId = TENANT, connections = ["default"], override = {} }) {
      const samples = SAMPLE_SOURCES.filter(
        (s) => s.integrationId === integrationId && (dataTypes === undefined || dataTypes.includes(s.dataType)),
      );
      const sources = samples.map((sample) =>
        sourceInputSchema.parse({
          integrationSlug: sample.integrationSlug,
          actionSlug: sample.actionSlug,
          referenceData: { ...sample.referenceData, ...override },
        }),
      );
      return seedPartitions(repos, { tenantId, integrationId, sources, connections }, clock.now());
    },
    async request(ref, extra = {}) {
      const message: SyncMessage = { v: 1, kind: "sync", ...ref, trigger: "manual", ...extra };
      await servers.sqs.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }));
    },
    async drain(invocation = {}) {
      const results: RecordResult[] = [];
      let invocations = 0;
      let crashed = 0;
      for (let round = 0; round < 500; round++) {
        const pick = typeof invocation === "function" ? invocation(invocations) : invocation;
        const delivered = await deliverOnce(pick);
        if (delivered.received === 0) return { results, invocations, crashed };
        invocations++;
        if (delivered.crashed) crashed++;
        results.push(...delivered.results);
      }
      throw new Error("the queue did not drain in 500 rounds");
    },
    deliverOnce,
    partition: (ref) => mustGetPartition(repos, ref),
    jobs: (ref) =>
      listJobs(repos, ref.tenantId, ref.integrationId, { connectionId: ref.connectionId, dataType: ref.dataType }),
    async items(ref) {
      return new Map((await repos.items.listAll(ref)).map((item) => [item.externalId, item]));
    },
    deadLetters: () => driver.deadLetters(false),
  };
  return env;
}

/** The one sync outcome among `results` (fails the test when there is not exactly one). */
export function outcomes(results: RecordResult[]) {
  return results.flatMap((r) => (r.status === "synced" ? [r.outcome] : []));
}

// ---------------------------------------------------------------------------------------------------------------
// freshWorld: the reliability suite

export interface WorldOptions {
  /** Clock start (epoch ms); default: now, so SQS SentTimestamps and the clock agree. */
  start?: number;
  /** Seeds backoff jitter and TTL jitter. */
  seed?: number;
  /** Gateway client per-request timeout (real time: an injected timeout fault hangs longer than this). */
  requestTimeoutMs?: number;
  /** Gateway client attempts per page, the first included. */
  gatewayAttempts?: number;
  /** Sync engine options for every drain (lease, margins...). */
  engine?: Partial<SyncEngineOptions>;
  /** Each worker invocation's time budget, on the manual clock (default 300 s, the AWS worker timeout). */
  budgetMs?: number;
  visibilityTimeoutSeconds?: number;
  /**
   * Give the worker its own DynamoDB client (`world.workerDoc`), so a test can inject failures or crashes into the
   * worker's writes only, not the planner's or the test's own reads. Close it with `world.dispose()`.
   */
  dedicatedWorkerClient?: boolean;
}

export interface DrainOptions {
  hooks?: SyncHooks;
  /** Replaces the world's gateway client for this drain (e.g. one that crashes on its n-th call). */
  gateway?: GatewayClient;
  /** Records per invocation (1-10, default 5 as in AWS). */
  batchSize?: number;
  /** Invocations running at once (default 1). */
  concurrency?: number;
  /**
   * What happens to a crashed invocation's messages: `redeliver` (default) makes them visible again after the dead
   * lease has expired, as SQS does after the visibility timeout; `lose` deletes them (the message is gone, only the
   * due index can bring the partition back).
   */
  afterCrash?: "redeliver" | "lose";
  /** Runs after a crash, once the dead lease has expired and before the batch is redelivered (e.g. a planner run). */
  onCrash?: () => Promise<void>;
  /** Guard against a pipeline that never settles. */
  maxBatches?: number;
}

export interface DrainReport {
  batches: number;
  crashes: number;
  /** Records reported as batch item failures (redelivered). */
  retried: number;
  results: RecordResult[];
}

export interface World {
  servers: Servers;
  tableName: string;
  queueUrl: string;
  dlqUrl: string;
  repos: Repositories;
  /** The worker's own DynamoDB client, with `dedicatedWorkerClient`. */
  workerDoc: DynamoDBDocumentClient | undefined;
  clock: ManualClock;
  log: Logger;
  gateway: SampleGateway;
  /** The world's gateway client: sleeps elapse on the manual clock. */
  gatewayClient: GatewayClient;
  /** The sync queue on fauxqs; a continuation's delay elapses on the manual clock instead of in real time. */
  queue: SyncQueue;
  leaseMs: number;
  /** Saves sources and enrolls connections through the repositories and creates their partitions (due now). */
  seed(input: {
    tenantId: string;
    integrationId: string;
    sources: SourceSpec[];
    connections?: string[];
  }): Promise<PartitionRef[]>;
  workerDeps(overrides?: { hooks?: SyncHooks; gateway?: GatewayClient }): WorkerDeps;
  plan(input?: Partial<PlanInput>, options?: Partial<PlannerOptions>): Promise<PlannerSummary>;
  drain(options?: DrainOptions): Promise<DrainReport>;
  /** Puts raw bodies on the sync queue, as another service would. */
  sendRaw(bodies: string[]): Promise<void>;
  depth(): Promise<{ visible: number; inFlight: number; delayed: number }>;
  /** Receives and deletes everything on the DLQ. */
  takeDeadLetters(): Promise<{ body: string; reason: string | undefined }[]>;
  partition(ref: PartitionRef): Promise<Partition>;
  items(ref: PartitionRef): Promise<Item[]>;
  /** The committed manifest of a partition (externalId → hash/status), or an empty map before the first sync. */
  manifest(ref: PartitionRef): Promise<Manifest>;
  /** Every job of an integration, oldest first. */
  jobs(tenantId: string, integrationId: string): Promise<Job[]>;
  /** Whether the partition row carries due-index keys (it can come back through the planner). */
  dueKey(ref: PartitionRef): Promise<string | undefined>;
  /** Closes what the world opened for itself (the worker's own client). */
  dispose(): void;
}

let worlds = 0;

/** A fresh table, queue and DLQ over the servers, with its own manual clock. */
export async function freshWorld(servers: Servers, options: WorldOptions = {}): Promise<World> {
  const id = ++worlds;
  const [tableName, queues] = await Promise.all([
    servers.dynamo.createTable(`rel${id}`),
    servers.sqs.createQueues(`rel${id}`, { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 60 }),
  ]);
  const { queueUrl, dlqUrl } = queues;
  const { sqs } = servers.sqs;
  const doc = servers.dynamo.doc;
  const clock = manualClock(options.start ?? Math.floor(Date.now() / 1000) * 1000);
  const random = mulberry32(options.seed ?? 7);
  const log = createLogger({}, "silent");
  const repos = createRepositories({ doc, tableName, retry: { sleep: async () => undefined } });
  const workerDoc = options.dedicatedWorkerClient
    ? createDocumentClient({ endpoint: servers.dynamo.endpoint })
    : undefined;
  const workerRepos = workerDoc
    ? createRepositories({ doc: workerDoc, tableName, retry: { sleep: async () => undefined } })
    : repos;
  const sqsQueue = createSqsSyncQueue(sqs, queueUrl, { messageGroupIds: false, sleep: async () => undefined });
  const queue: SyncQueue = {
    async send(messages, sendOptions) {
      // The worker asks SQS to hold a continuation back (Retry-After); here that wait passes on the manual clock.
      if (sendOptions?.delaySeconds) clock.advance(sendOptions.delaySeconds * 1000);
      return sqsQueue.send(messages);
    },
  };
  const gatewayClient = createGatewayClient({
    baseUrl: servers.gateway.url,
    apiKey: async (tenantId) => ({ apiKey: sampleGatewayKey(tenantId), version: "sample" }),
    clock,
    sleep: async (ms) => clock.advance(ms),
    random,
    requestTimeoutMs: options.requestTimeoutMs ?? 2_000,
    maxAttempts: options.gatewayAttempts ?? 4,
  });
  const engine: Partial<SyncEngineOptions> = { random, ...options.engine };
  const leaseMs = engine.leaseMs ?? DEFAULT_SYNC_OPTIONS.leaseMs;
  const budgetMs = options.budgetMs ?? 300_000;
  const deadLetters = createSqsDeadLetterQueue(sqs, dlqUrl);
  let invocations = 0;

  const workerDeps = (overrides: { hooks?: SyncHooks; gateway?: GatewayClient } = {}): WorkerDeps => {
    const deps: WorkerDeps = {
      repos: workerRepos,
      gateway: overrides.gateway ?? gatewayClient,
      queue,
      clock,
      log,
      options: engine,
      deadLetters,
    };
    if (overrides.hooks) deps.hooks = overrides.hooks;
    return deps;
  };

  const driver = queueDriver(sqs, queueUrl, dlqUrl);

  const depth = async () => {
    const { Attributes: a = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: [
          "ApproximateNumberOfMessages",
          "ApproximateNumberOfMessagesNotVisible",
          "ApproximateNumberOfMessagesDelayed",
        ],
      }),
    );
    return {
      visible: Number(a.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
    };
  };

  const world: World = {
    servers,
    tableName,
    queueUrl,
    dlqUrl,
    repos,
    workerDoc,
    clock,
    log,
    gateway: servers.gateway,
    gatewayClient,
    queue,
    leaseMs,

    seed: (input) =>
      seedPartitions(
        repos,
        {
          tenantId: input.tenantId,
          integrationId: input.integrationId,
          sources: input.sources.map((source) => sourceInputSchema.parse(source)),
          connections: input.connections ?? ["default"],
        },
        clock.now(),
      ),

    workerDeps,

    plan(input = {}, plannerOptions = {}) {
      const now = clock.now();
      return runPlanner(
        { repos, queue, clock, log, options: plannerOptions },
        { now, deadline: now + 60_000, ...input },
      );
    },

    async drain(drainOptions = {}) {
      const report: DrainReport = { batches: 0, crashes: 0, retried: 0, results: [] };
      const batchSize = drainOptions.batchSize ?? 5;
      const maxBatches = drainOptions.maxBatches ?? 500;
      const deps = workerDeps({
        ...(drainOptions.hooks ? { hooks: drainOptions.hooks } : {}),
        ...(drainOptions.gateway ? { gateway: drainOptions.gateway } : {}),
      });
      const runBatch = async (messages: Message[]) => {
        const startedAt = clock.now();
        const invocation = {
          invocationId: `invocation-${id}-${++invocations}`,
          remainingMs: () => budgetMs - (clock.now() - startedAt),
        };
        const ran = await driver.run(deps, messages, invocation);
        if (!ran.crashed) {
          report.results.push(...ran.results);
          report.retried += ran.retried;
          return;
        }
        report.crashes++;
        if (drainOptions.afterCrash === "lose") {
          for (const message of messages) await driver.remove(message);
          await drainOptions.onCrash?.();
        } else {
          // SQS hands the batch out again only after the visibility timeout, which is longer than the lease.
          clock.advance(leaseMs + 1_000);
          await drainOptions.onCrash?.();
          for (const message of messages) await driver.release(message);
        }
      };
      const loop = async () => {
        for (;;) {
          if (report.batches >= maxBatches) throw new Error(`drain: no quiet queue after ${maxBatches} batches`);
          const messages = await driver.receive(batchSize);
          if (messages.length === 0) return;
          report.batches++;
          await runBatch(messages);
        }
      };
      do {
        await Promise.all(Array.from({ length: drainOptions.concurrency ?? 1 }, loop));
      } while ((await depth()).visible > 0);
      return report;
    },

    async sendRaw(bodies) {
      for (let start = 0; start < bodies.length; start += 10) {
        const entries = bodies.slice(start, start + 10).map((body, index) => ({ Id: `m${index}`, MessageBody: body }));
        const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        if ((result.Failed ?? []).length > 0) throw new Error(`sendRaw: ${JSON.stringify(result.Failed)}`);
      }
    },

    depth,

    takeDeadLetters: () => driver.deadLetters(true),

    partition: (ref) => mustGetPartition(repos, ref),

    items: (ref) => repos.items.listAll(ref),

    async manifest(ref) {
      const partition = await world.partition(ref);
      if (partition.version === 0 || partition.manifestChunks === 0) return new Map();
      return repos.manifests.read(ref, partition.version, partition.manifestChunks);
    },

    jobs: async (tenantId, integrationId) => (await listJobs(repos, tenantId, integrationId)).reverse(),

    dispose() {
      workerDoc?.destroy();
    },

    async dueKey(ref) {
      const key = keys.partition(ref);
      const result = await doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: "PK = :pk AND SK = :sk",
          ExpressionAttributeValues: { ":pk": key.PK, ":sk": key.SK },
          ConsistentRead: true,
        }),
      );
      const row = result.Items?.[0];
      return typeof row?.GSI1SK === "string" ? row.GSI1SK : undefined;
    },
  };
  return world;
}

/** The item fields a sync decides (not who wrote them or when): what two runs must agree on. */
export function itemState(items: Item[]): Record<string, Pick<Item, "name" | "status" | "contentHash" | "metadata">> {
  const state: Record<string, Pick<Item, "name" | "status" | "contentHash" | "metadata">> = {};
  for (const item of [...items].sort((a, b) => a.externalId.localeCompare(b.externalId))) {
    state[item.externalId] = {
      name: item.name,
      status: item.status,
      contentHash: item.contentHash,
      metadata: item.metadata,
    };
  }
  return state;
}

/** A manifest as a plain sorted object, for equality checks. */
export function manifestState(manifest: Manifest): Record<string, string> {
  return Object.fromEntries(
    [...manifest.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, entry]) => [id, `${entry.status}:${entry.hash}`]),
  );
}
