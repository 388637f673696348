/**
 * The metrics the sync-worker Lambda emits, read back from the EMF lines it writes to stdout as CloudWatch would: a
 * completed sync, and a failed one of each kind (gateway outage, a tenant's credentials, a configuration error, a
 * malformed message, a transient storage failure), each with the `service` and `stage` dimensions the alarms watch.
 * Also: the gateway calls' latency and error counts, and a failed record's short retry delay.
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { handler as workerHandler } from "../../../functions/sync-worker/handler.js";
import { defaultDatasets, sampleGatewayKey } from "../../../infra/local/sample-gateway/index.js";
import { createFileKeyCipher } from "../../../shared/credentials/cipher.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { resetRuntime } from "../../../shared/runtime.js";
import { createEnv, type Env, type Servers, startServers } from "../../support/sync-harness.js";

let servers: Servers;
let env: Env;
let partitions: PartitionRef[];
const savedEnv = { ...process.env };

beforeAll(async () => {
  servers = await startServers();
  env = await createEnv(servers);
  servers.gateway.data = defaultDatasets();
  partitions = await env.seed({
    integrationId: "slack",
    dataTypes: ["users"],
    connections: ["ok", "outage", "creds", "config", "transient"],
  });
  // The tenant's own Waygate key, stored encrypted as PUT /gateway/credentials stores it: the worker reads it back.
  const keyFile = join(mkdtempSync(join(tmpdir(), "rds-metrics-")), "credentials.key");
  const tenantId = partitions[0]?.tenantId ?? "";
  const ciphertext = await createFileKeyCipher(keyFile).encrypt(tenantId, sampleGatewayKey(tenantId));
  await env.repos.tenants.putCredentials(tenantId, { ciphertext, version: "v1", keyHint: "wg_sampl…", now: 0 });
  Object.assign(process.env, {
    TABLE_NAME: env.tableName,
    QUEUE_URL: env.queueUrl,
    DLQ_URL: env.dlqUrl,
    DYNAMODB_ENDPOINT: servers.dynamo.endpoint,
    SQS_ENDPOINT: servers.sqs.endpoint,
    GATEWAY_URL: servers.gateway.url,
    CREDENTIALS_KEY_FILE: keyFile,
    CURSOR_SECRET: "a-cursor-secret-for-tests-only",
    LOG_LEVEL: "error",
    STAGE: "metrics-test",
  });
  resetRuntime();
});
afterAll(async () => {
  resetRuntime();
  process.env = savedEnv;
  await servers.stop();
});

interface Emf {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [key: string]: unknown;
}

function partition(connectionId: string): PartitionRef {
  const found = partitions.find((ref) => ref.connectionId === connectionId);
  if (!found) throw new Error(`no partition for ${connectionId}`);
  return found;
}

function record(messageId: string, body: string, receiveCount = 1): SQSRecord {
  return {
    messageId,
    receiptHandle: `handle-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: String(Date.now()),
      SenderId: "test",
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:sync",
    awsRegion: "us-east-1",
  };
}

const syncBody = (ref: PartitionRef) => JSON.stringify({ v: 1, kind: "sync", ...ref, trigger: "manual" });

/** Runs the worker on `records` and returns the EMF lines it wrote. */
async function emfOf(records: SQSRecord[]): Promise<{ lines: Emf[]; failures: string[] }> {
  const deadline = Date.now() + 60_000;
  const context = {
    awsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    functionName: "test",
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as unknown as Context;
  const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  let written: string[];
  let failures: string[];
  try {
    const response = await workerHandler({ Records: records } as SQSEvent, context);
    failures = (response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier);
  } finally {
    written = write.mock.calls.map(([line]) => String(line));
    write.mockRestore();
  }
  const lines = written
    .flatMap((chunk) => chunk.split("\n"))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Emf);
  return { lines, failures };
}

/** The sum of `name` over the EMF lines whose dimensions include `dimensions`. */
function total(lines: Emf[], name: string, dimensions: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of lines) {
    const declared = line._aws.CloudWatchMetrics.some((directive) => directive.Metrics.some((m) => m.Name === name));
    if (!declared) continue;
    if (!Object.entries(dimensions).every(([key, value]) => line[key] === value)) continue;
    const value = line[name];
    sum += Array.isArray(value) ? value.reduce((a: number, b: number) => a + b, 0) : Number(value);
  }
  return sum;
}

const dims = { service: "reference-data-sync", stage: "metrics-test" };

describe("worker metrics", () => {
  it("count a completed sync, and time its gateway calls without errors", async () => {
    const { lines } = await emfOf([record("ok", syncBody(partition("ok")))]);

    expect(total(lines, "SyncsCompleted", dims)).toBe(1);
    expect(total(lines, "SyncsFailed", dims)).toBe(0);
    expect(total(lines, "GatewayCalls", dims)).toBeGreaterThanOrEqual(1);
    expect(total(lines, "GatewayErrors", dims)).toBe(0);
    expect(lines.find((line) => line.GatewayLatency !== undefined)?._aws.CloudWatchMetrics[0]?.Namespace).toBe(
      "ReferenceDataSync",
    );
  });

  it("count a gateway outage as an outage failure of kind gateway, and its failed gateway call", async () => {
    servers.gateway.failNext(...Array.from({ length: 4 }, () => ({ status: 503, code: "SERVICE_UNAVAILABLE" })));

    const { lines } = await emfOf([record("outage", syncBody(partition("outage")))]);

    expect(total(lines, "SyncsFailed", dims)).toBe(1);
    expect(total(lines, "SyncOutageFailures", dims)).toBe(1);
    expect(total(lines, "SyncFailures", { ...dims, kind: "gateway" })).toBe(1);
    expect(total(lines, "GatewayErrors", dims)).toBe(1);
  });

  it("count one tenant's expired credentials by kind and pause reason, never as an outage", async () => {
    servers.gateway.failNext({ status: 401, code: "CREDENTIALS_EXPIRED" });

    const { lines } = await emfOf([record("creds", syncBody(partition("creds")))]);

    expect(total(lines, "SyncFailures", { ...dims, kind: "credentials" })).toBe(1);
    expect(total(lines, "PartitionPauseEvents", { ...dims, reason: "credentials" })).toBe(1);
    // The gauge of paused partitions is the planner's, never the worker's.
    expect(total(lines, "PartitionsPaused", dims)).toBe(0);
    expect(total(lines, "SyncsFailed", dims)).toBe(1);
    expect(total(lines, "SyncOutageFailures", dims)).toBe(0);
  });

  it("count a configuration error (unknown action) as kind config", async () => {
    servers.gateway.failNext({ status: 404, code: "ACTION_NOT_FOUND" });

    const { lines } = await emfOf([record("config", syncBody(partition("config")))]);

    expect(total(lines, "SyncFailures", { ...dims, kind: "config" })).toBe(1);
    expect(total(lines, "SyncOutageFailures", dims)).toBe(0);
  });

  it("count a malformed message as dead-lettered, kind malformed", async () => {
    const { lines, failures } = await emfOf([record("bad", "{ not json")]);

    expect(failures).toEqual([]);
    expect(total(lines, "MessagesDeadLettered", dims)).toBe(1);
    expect(total(lines, "SyncFailures", { ...dims, kind: "malformed" })).toBe(1);
  });

  it("count a storage failure as a transient outage failure, and ask SQS for a short retry delay", async () => {
    const { SQSClient } = await import("@aws-sdk/client-sqs");
    const send = vi.spyOn(SQSClient.prototype, "send");
    process.env.TABLE_NAME = "no-such-table";
    resetRuntime();
    try {
      const { lines, failures } = await emfOf([record("transient", syncBody(partition("transient")), 3)]);

      expect(failures).toEqual(["transient"]);
      expect(total(lines, "SyncFailures", { ...dims, kind: "transient" })).toBe(1);
      expect(total(lines, "SyncOutageFailures", dims)).toBe(1);
      const change = send.mock.calls
        .map(([command]) => command.input as { Entries?: { ReceiptHandle: string; VisibilityTimeout: number }[] })
        .find((input) => input.Entries?.some((entry) => entry.ReceiptHandle === "handle-transient"));
      // The third receive waits 20 s × 2² instead of the queue's 30-minute visibility timeout.
      expect(change?.Entries).toEqual([{ Id: "0", ReceiptHandle: "handle-transient", VisibilityTimeout: 80 }]);
    } finally {
      send.mockRestore();
      process.env.TABLE_NAME = env.tableName;
      resetRuntime();
    }
  });
});
