/**
 * One dynalite and one fauxqs per test file, the runtime pointed at them through process.env (as the local stack
 * does), a fresh table and queue per call of `freshStack()`, an injectable clock, and helpers to call the handlers
 * with API Gateway events and to read what reached the queue.
 */
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import type { SourceInput } from "../../../shared/domain/source-config.js";
import type { ApiHandler } from "../../../shared/http/middleware.js";
import { createLogger } from "../../../shared/log.js";
import { getRuntime, overrideRuntime, resetRuntime } from "../../../shared/runtime.js";
import type { Repositories } from "../../../shared/storage/ports.js";
import { LEASE_MS, REQUEUE_WINDOW_MS } from "../../../shared/sync/durations.js";
import {
  type ApiEventInput,
  apiEvent,
  lambdaContext,
  type ParsedResponse,
  parseResponse,
} from "../../support/api-events.js";
import { startDynamo, type TestDynamo } from "../../support/dynamo.js";
import { startSqs, type TestSqs } from "../../support/sqs.js";

export const CURSOR_SECRET = "integration-test-cursor-secret";
export const T0 = Date.parse("2026-03-01T12:00:00.000Z");

export type Handler = ApiHandler;

export interface Servers {
  dynamo: TestDynamo;
  sqs: TestSqs;
  stop(): Promise<void>;
}

export async function startServers(): Promise<Servers> {
  const [dynamo, sqs] = await Promise.all([startDynamo(), startSqs()]);
  return {
    dynamo,
    sqs,
    async stop() {
      resetRuntime();
      await Promise.all([dynamo.stop(), sqs.stop()]);
    },
  };
}

export interface Stack {
  tableName: string;
  queueUrl: string;
  repos: Repositories;
  clock: { t: number; now(): number };
  /** Calls `handler` with an event built from `input`; parses the envelope. */
  call<T = unknown>(handler: Handler, input: ApiEventInput): Promise<ParsedResponse<T>>;
  /** Receives and deletes every message currently on the queue. */
  drain(): Promise<Record<string, unknown>[]>;
  /** Every row of the table whose PK belongs to `tenantId`. */
  tenantRows(tenantId: string): Promise<Record<string, unknown>[]>;
}

/** A fresh table and queue, with the runtime rebuilt over them. */
export async function freshStack(servers: Servers, options: { queue?: boolean } = {}): Promise<Stack> {
  const tableName = await servers.dynamo.createTable("api");
  const { queueUrl } = await servers.sqs.createQueues("api");
  process.env.TABLE_NAME = tableName;
  process.env.DYNAMODB_ENDPOINT = servers.dynamo.endpoint;
  process.env.SQS_ENDPOINT = servers.sqs.endpoint;
  if (options.queue === false) delete process.env.QUEUE_URL;
  else process.env.QUEUE_URL = queueUrl;
  process.env.CURSOR_SECRET = CURSOR_SECRET;
  // Handler tests call one key hundreds of times a second; quotas.test.ts sets the real per-key limit.
  process.env.API_KEY_RATE_PER_SECOND ??= "1000000";
  process.env.API_KEY_BURST ??= "1000000";
  process.env.LOG_LEVEL = "error";
  resetRuntime();
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  overrideRuntime({ clock, log: createLogger({}, "silent") });
  const { repos, sqs } = getRuntime();
  return {
    tableName,
    queueUrl,
    repos,
    clock,
    async call(handler, input) {
      return parseResponse(await handler(apiEvent(input), lambdaContext()));
    },
    async drain() {
      const bodies: Record<string, unknown>[] = [];
      for (;;) {
        const received = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        const messages = received.Messages ?? [];
        if (messages.length === 0) return bodies;
        for (const m of messages) {
          bodies.push(JSON.parse(m.Body ?? "null"));
          await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
        }
      }
    },
    async tenantRows(tenantId) {
      const rows: Record<string, unknown>[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await servers.dynamo.doc.send(
          new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
        );
        for (const row of page.Items ?? []) {
          if (String(row.PK).startsWith(`T#${tenantId}#`) || row.PK === `T#${tenantId}`) rows.push(row);
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return rows.sort((a, b) => `${a.PK}|${a.SK}`.localeCompare(`${b.PK}|${b.SK}`));
    },
  };
}

/** A list source for `dataType` (Slack-like users by default). */
export function listSource(dataType = "users", extra: Record<string, unknown> = {}): SourceInput {
  return {
    integrationSlug: "slack",
    actionSlug: `${dataType}-list`,
    referenceData: {
      dataType,
      syncable: true,
      syncType: "list",
      extractionPath: "$.members[*]",
      idField: "id",
      nameField: "name",
      fuzzyMatch: true,
      metadataFields: [],
      defaultTtlSeconds: 3600,
      pagination: { strategy: "none" },
      ...extra,
    },
  } as SourceInput;
}

/** Saves sources and enrolls connections directly through the repositories, then creates their partitions. */
export async function seedIntegration(
  stack: Stack,
  input: { tenantId: string; integrationId: string; dataTypes: string[]; connections: string[] },
): Promise<PartitionRef[]> {
  const { repos, clock } = stack;
  const refs: PartitionRef[] = [];
  for (const dataType of input.dataTypes) {
    await repos.sources.put(input.tenantId, input.integrationId, dataType, listSource(dataType), clock.now());
  }
  for (const connectionId of input.connections) {
    await repos.connections.enroll(input.tenantId, input.integrationId, connectionId, clock.now());
    for (const dataType of input.dataTypes) {
      const ref = { tenantId: input.tenantId, integrationId: input.integrationId, connectionId, dataType };
      await repos.partitions.ensure(ref, { syncType: "list", now: clock.now() });
      refs.push(ref);
    }
  }
  return refs;
}

/** Runs a partition through a successful sync in storage (claim, job, lease, success) with `itemCount` items. */
export async function completeSync(
  stack: Stack,
  ref: PartitionRef,
  input: { jobId: string; itemCount?: number; totalCount?: number; version?: number },
): Promise<void> {
  const { repos, clock } = stack;
  const now = clock.now();
  await repos.partitions.claim(ref, { jobId: input.jobId, now, requeueDeadline: now + REQUEUE_WINDOW_MS });
  await repos.jobs.create({ ref, jobId: input.jobId, trigger: "schedule", mode: "full", actionSlug: "x", now });
  await repos.partitions.acquireLease(ref, { jobId: input.jobId, owner: "test", now, leaseMs: LEASE_MS });
  await repos.jobs.update(ref.tenantId, ref.integrationId, input.jobId, {
    status: "syncing",
    startedAt: new Date(now).toISOString(),
  });
  await repos.partitions.recordSuccess(ref, {
    jobId: input.jobId,
    owner: "test",
    now,
    nextSyncAt: now + 3_600_000,
    version: input.version ?? 1,
    manifestChunks: 0,
    objectChunks: 0,
    itemCount: input.itemCount ?? 0,
    ...(input.totalCount === undefined ? {} : { totalCount: input.totalCount }),
    startedAt: now,
    full: true,
  });
  await repos.jobs.update(ref.tenantId, ref.integrationId, input.jobId, {
    status: "completed",
    completedAt: new Date(now).toISOString(),
    itemsFound: input.itemCount ?? 0,
    itemsCreated: input.itemCount ?? 0,
  });
}

export const caller = (tenantId: string, scopes?: string[]) => (scopes ? { tenantId, scopes } : { tenantId });
