/**
 * Integration harness for the sync engine: dynalite, fauxqs and the sample gateway over HTTP on 127.0.0.1, all started
 * by the test file, a fresh table and queue pair per test, and a delivery loop that plays Lambda's SQS event source
 * mapping (receive a batch, run the worker service, delete what succeeded).
 *
 * Time: `clock` is real time plus an offset the test moves forward (TTL expiry, lease expiry, backoff), so SQS's
 * SentTimestamp and the engine's clock stay comparable. Nothing sleeps: gateway backoff advances the offset.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import {
  SAMPLE_SOURCES,
  type SampleGateway,
  type SampleGatewayOptions,
  sampleGatewayKey,
  startSampleGateway,
} from "../../../infra/local/sample-gateway/index.js";
import type { KeyCipher } from "../../../shared/credentials/cipher.js";
import { createTenantKeyProvider } from "../../../shared/credentials/key-provider.js";
import type { Clock } from "../../../shared/domain/clock.js";
import type { Item, Job, Partition } from "../../../shared/domain/entities.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { type ReferenceDataConfigInput, sourceInputSchema } from "../../../shared/domain/source-config.js";
import type { QueueMessage, SyncMessage } from "../../../shared/domain/sync-message.js";
import type { EventPublisher } from "../../../shared/events/events.js";
import {
  createGatewayClient,
  type GatewayClientOptions,
  type TenantKeyProvider,
} from "../../../shared/gateway/client.js";
import { createLogger } from "../../../shared/log.js";
import { createRepositories } from "../../../shared/storage/index.js";
import type { Repositories } from "../../../shared/storage/ports.js";
import { ensurePartitionsFor } from "../../../shared/sync/partitions.js";
import {
  createSqsDeadLetterQueue,
  processSyncBatch,
  type QueueRecord,
  type RecordResult,
  type WorkerDeps,
} from "../../../shared/sync/process-batch.js";
import { SimulatedCrash, type SyncEngineOptions, type SyncHooks } from "../../../shared/sync/run-sync.js";
import { createSqsSyncQueue, type SendOptions, type SyncQueue } from "../../../shared/sync/sync-queue.js";
import { startDynamo, type TestDynamo } from "../../support/dynamo.js";
import { startSqs, type TestSqs } from "../../support/sqs.js";

export const TENANT = "acme";

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

/** Starts dynalite, fauxqs and the sample gateway (once per test file). */
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

export interface TestClock extends Clock {
  advance(ms: number): void;
  readonly offset: number;
}

export function testClock(): TestClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms) {
      offset += ms;
    },
    get offset() {
      return offset;
    },
  };
}

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

  const receive = async (max: number): Promise<Message[]> => {
    const received = await servers.sqs.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    return received.Messages ?? [];
  };

  const deliverOnce: Env["deliverOnce"] = async (invocation = {}, max = 10) => {
    const messages = await receive(max);
    if (messages.length === 0) return { results: [], received: 0, crashed: false };
    const records: QueueRecord[] = messages.map((m) => {
      const sent = Number(m.Attributes?.SentTimestamp);
      const record: QueueRecord = { messageId: m.MessageId ?? "", body: m.Body ?? "" };
      // SentTimestamp is real time; the engine's clock runs `offset` ahead.
      if (Number.isFinite(sent)) record.sentAt = sent + clock.offset;
      return record;
    });
    const deps = worker(invocation);
    try {
      const { results, batchItemFailures } = await processSyncBatch(deps, records, deps);
      const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
      for (const m of messages) {
        if (failed.has(m.MessageId ?? "")) {
          await servers.sqs.sqs.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: queueUrl,
              ReceiptHandle: m.ReceiptHandle,
              VisibilityTimeout: 0,
            }),
          );
        } else {
          await servers.sqs.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
        }
      }
      return { results, received: messages.length, crashed: false };
    } catch (error) {
      if (!(error instanceof SimulatedCrash)) throw error;
      // The process died: its messages come back once their visibility timeout ends (here: at once).
      for (const m of messages) {
        await servers.sqs.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
      return { results: [], received: messages.length, crashed: true };
    }
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
      const now = clock.now();
      const samples = SAMPLE_SOURCES.filter(
        (s) => s.integrationId === integrationId && (dataTypes === undefined || dataTypes.includes(s.dataType)),
      );
      for (const sample of samples) {
        await repos.sources.put(
          tenantId,
          integrationId,
          sample.dataType,
          sourceInputSchema.parse({
            integrationSlug: sample.integrationSlug,
            actionSlug: sample.actionSlug,
            referenceData: { ...sample.referenceData, ...override },
          }),
          now,
        );
      }
      for (const connectionId of connections)
        await repos.connections.enroll(tenantId, integrationId, connectionId, now);
      await ensurePartitionsFor(repos, { tenantId, integrationId }, now);
      return connections.flatMap((connectionId) =>
        samples.map((s) => ({ tenantId, integrationId, connectionId, dataType: s.dataType })),
      );
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
    async partition(ref) {
      const partition = await repos.partitions.get(ref);
      if (!partition) throw new Error("partition missing");
      return partition;
    },
    async jobs(ref) {
      const page = await repos.jobs.list(ref.tenantId, ref.integrationId, {
        connectionId: ref.connectionId,
        dataType: ref.dataType,
        limit: 100,
      });
      return page.items;
    },
    async items(ref) {
      return new Map((await repos.items.listAll(ref)).map((item) => [item.externalId, item]));
    },
    async deadLetters() {
      const received = await servers.sqs.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ["All"] }),
      );
      return (received.Messages ?? []).map((m) => ({
        body: m.Body ?? "",
        reason: m.MessageAttributes?.reason?.StringValue,
      }));
    },
  };
  return env;
}

/** The one sync outcome among `results` (fails the test when there is not exactly one). */
export function outcomes(results: RecordResult[]) {
  return results.flatMap((r) => (r.status === "synced" ? [r.outcome] : []));
}
