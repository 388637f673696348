/**
 * The sync pipeline on real protocols for the reliability suite: dynalite, fauxqs and the sample gateway over loopback
 * (one of each per test file), a fresh table and queue per `freshWorld()`, a manual clock, and a driver that plays
 * Lambda's SQS event source mapping against the real worker service: it receives batches from fauxqs, runs
 * processSyncBatch, deletes what succeeded, and makes failed or crashed batches visible again (a visibility timeout
 * that has run out). A crash is a SimulatedCrash thrown from a hook or a gateway wrapper: nothing of the invocation
 * is cleaned up, as when a Lambda is killed.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from "@aws-sdk/client-sqs";
import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { z } from "zod";
import {
  mulberry32,
  type SampleGateway,
  type SampleGatewayOptions,
  sampleGatewayKey,
  startSampleGateway,
} from "../../../infra/local/sample-gateway/index.js";
import type { Item, Job, Partition } from "../../../shared/domain/entities.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { sourceInputSchema } from "../../../shared/domain/source-config.js";
import { createGatewayClient, type GatewayClient } from "../../../shared/gateway/client.js";
import { createLogger, type Logger } from "../../../shared/log.js";
import { createDocumentClient } from "../../../shared/storage/client.js";
import { createRepositories } from "../../../shared/storage/index.js";
import { keys } from "../../../shared/storage/keys.js";
import type { Manifest, Repositories } from "../../../shared/storage/ports.js";
import { ensurePartitionsFor } from "../../../shared/sync/partitions.js";
import { type PlanInput, type PlannerOptions, type PlannerSummary, runPlanner } from "../../../shared/sync/plan.js";
import {
  createSqsDeadLetterQueue,
  processSyncBatch,
  type QueueRecord,
  type RecordResult,
  type WorkerDeps,
} from "../../../shared/sync/process-batch.js";
import {
  DEFAULT_SYNC_OPTIONS,
  SimulatedCrash,
  type SyncEngineOptions,
  type SyncHooks,
} from "../../../shared/sync/run-sync.js";
import { createSqsSyncQueue, type SyncQueue } from "../../../shared/sync/sync-queue.js";
import { startDynamo, type TestDynamo } from "../dynamo.js";
import { startSqs, type TestSqs } from "../sqs.js";
import { type ManualClock, manualClock } from "./clock.js";

/** A source as a tenant would PUT it (defaults not yet applied). */
export type SourceSpec = z.input<typeof sourceInputSchema>;

export interface ReliabilityServers {
  dynamo: TestDynamo;
  sqs: TestSqs;
  gateway: SampleGateway;
  stop(): Promise<void>;
}

/** dynalite, fauxqs and the sample gateway on free loopback ports. */
export async function startReliabilityServers(gateway: SampleGatewayOptions = {}): Promise<ReliabilityServers> {
  const [dynamo, sqs, sample] = await Promise.all([startDynamo(), startSqs(), startSampleGateway(gateway)]);
  return {
    dynamo,
    sqs,
    gateway: sample,
    async stop() {
      await Promise.all([dynamo.stop(), sqs.stop(), sample.stop()]);
    },
  };
}

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
  servers: ReliabilityServers;
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
export async function freshWorld(servers: ReliabilityServers, options: WorldOptions = {}): Promise<World> {
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

  const receive = async (max: number): Promise<Message[]> => {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ["SentTimestamp"],
      }),
    );
    return received.Messages ?? [];
  };
  const remove = (message: Message) =>
    sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
  const release = (message: Message) =>
    sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: message.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );

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

    async seed(input) {
      const now = clock.now();
      for (const source of input.sources) {
        const parsed = sourceInputSchema.parse(source);
        await repos.sources.put(input.tenantId, input.integrationId, parsed.referenceData.dataType, parsed, now);
      }
      for (const connectionId of input.connections ?? ["default"]) {
        await repos.connections.enroll(input.tenantId, input.integrationId, connectionId, now);
      }
      await ensurePartitionsFor(repos, { tenantId: input.tenantId, integrationId: input.integrationId }, now);
      const refs: PartitionRef[] = [];
      for (const connectionId of input.connections ?? ["default"]) {
        for (const source of input.sources) {
          refs.push({
            tenantId: input.tenantId,
            integrationId: input.integrationId,
            connectionId,
            dataType: source.referenceData.dataType,
          });
        }
      }
      return refs;
    },

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
        const records: QueueRecord[] = messages.map((message) => {
          const sentAt = Number(message.Attributes?.SentTimestamp);
          const record: QueueRecord = { messageId: message.MessageId ?? "", body: message.Body ?? "" };
          if (Number.isFinite(sentAt)) record.sentAt = sentAt;
          return record;
        });
        const startedAt = clock.now();
        const invocation = {
          invocationId: `invocation-${id}-${++invocations}`,
          remainingMs: () => budgetMs - (clock.now() - startedAt),
        };
        try {
          const result = await processSyncBatch(deps, records, invocation);
          report.results.push(...result.results);
          const failed = new Set(result.batchItemFailures.map((failure) => failure.itemIdentifier));
          report.retried += failed.size;
          for (const message of messages) {
            await (failed.has(message.MessageId ?? "") ? release(message) : remove(message));
          }
        } catch (error) {
          if (!(error instanceof SimulatedCrash)) throw error;
          report.crashes++;
          if (drainOptions.afterCrash === "lose") {
            for (const message of messages) await remove(message);
            await drainOptions.onCrash?.();
          } else {
            // SQS hands the batch out again only after the visibility timeout, which is longer than the lease.
            clock.advance(leaseMs + 1_000);
            await drainOptions.onCrash?.();
            for (const message of messages) await release(message);
          }
        }
      };
      const loop = async () => {
        for (;;) {
          if (report.batches >= maxBatches) throw new Error(`drain: no quiet queue after ${maxBatches} batches`);
          const messages = await receive(batchSize);
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

    async takeDeadLetters() {
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
        if (messages.length === 0) return letters;
        for (const message of messages) {
          letters.push({ body: message.Body ?? "", reason: message.MessageAttributes?.reason?.StringValue });
          await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: message.ReceiptHandle }));
        }
      }
    },

    async partition(ref) {
      const partition = await repos.partitions.get(ref);
      if (!partition) throw new Error(`no partition ${JSON.stringify(ref)}`);
      return partition;
    },

    items: (ref) => repos.items.listAll(ref),

    async manifest(ref) {
      const partition = await world.partition(ref);
      if (partition.version === 0 || partition.manifestChunks === 0) return new Map();
      return repos.manifests.read(ref, partition.version, partition.manifestChunks);
    },

    async jobs(tenantId, integrationId) {
      const jobs: Job[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await repos.jobs.list(tenantId, integrationId, {
          limit: 100,
          ...(startKey ? { startKey } : {}),
        });
        jobs.push(...page.items);
        startKey = page.nextKey;
      } while (startKey);
      return jobs.reverse();
    },

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
