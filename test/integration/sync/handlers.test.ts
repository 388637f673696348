/**
 * The planner and sync-worker Lambda handlers as Lambda calls them, wired by shared/runtime.ts from the environment
 * (dynalite, fauxqs and the sample gateway on loopback): a scheduled event plans, an SQS event syncs, and the batch
 * response names only the records SQS must redeliver.
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context, ScheduledEvent, SQSEvent, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { handler as plannerHandler } from "../../../functions/planner/handler.js";
import { handler as workerHandler } from "../../../functions/sync-worker/handler.js";
import { defaultDatasets, sampleGatewayKey } from "../../../infra/local/sample-gateway/index.js";
import { createFileKeyCipher } from "../../../shared/credentials/cipher.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { resetRuntime } from "../../../shared/runtime.js";
import { createEnv, type Env, type Servers, startServers } from "../../support/sync-harness.js";

let servers: Servers;
let env: Env;
let users: PartitionRef;
const savedEnv = { ...process.env };

beforeAll(async () => {
  servers = await startServers();
  env = await createEnv(servers);
  servers.gateway.data = defaultDatasets();
  [users] = (await env.seed({ integrationId: "slack", dataTypes: ["users"] })) as [PartitionRef];
  // The tenant's own Waygate key, stored encrypted as PUT /gateway/credentials stores it: the worker reads it back.
  const keyFile = join(mkdtempSync(join(tmpdir(), "rds-handlers-")), "credentials.key");
  const ciphertext = await createFileKeyCipher(keyFile).encrypt(users.tenantId, sampleGatewayKey(users.tenantId));
  await env.repos.tenants.putCredentials(users.tenantId, { ciphertext, version: "v1", keyHint: "wg_sampl…", now: 0 });
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
  });
  resetRuntime();
});
afterAll(async () => {
  resetRuntime();
  process.env = savedEnv;
  await servers.stop();
});

function context(remainingMs = 60_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    awsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    functionName: "test",
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as unknown as Context;
}

function sqsRecord(messageId: string, body: string): SQSRecord {
  return {
    messageId,
    receiptHandle: messageId,
    body,
    attributes: {
      ApproximateReceiveCount: "1",
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

describe("handlers", () => {
  it("plan on a schedule and log the staleness metric, then sync the SQS batch", async () => {
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let summary: Awaited<ReturnType<typeof plannerHandler>>;
    let lines: string[];
    try {
      summary = await plannerHandler({ detail: {} } as ScheduledEvent, context());
    } finally {
      lines = write.mock.calls.map(([line]) => String(line));
      write.mockRestore();
    }
    expect(summary).toMatchObject({ claimed: 1, enqueued: 1 });
    const emf = JSON.parse(lines.find((line) => line.includes('"_aws"') && line.includes("StalenessSeconds")) ?? "{}");
    expect(emf._aws?.CloudWatchMetrics[0].Namespace).toBe("ReferenceDataSync");
    expect(emf.StalenessSeconds).toBeGreaterThanOrEqual(0);

    const message = await receiveOne();
    const response = await workerHandler(
      {
        Records: [sqsRecord("good", JSON.stringify(message)), sqsRecord("bad", "{ not json")],
      } as SQSEvent,
      context(),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await env.partition(users)).toMatchObject({ status: "idle", version: 1, itemCount: 11 });
    const [dead] = await env.deadLetters();
    expect(dead).toMatchObject({ body: "{ not json", reason: expect.stringContaining("not valid JSON") });
  });

  it("publish PartitionsPaused per reason from the paused index, 0 for reasons with none", async () => {
    const refs = ["p1", "p2", "p3"].map((connectionId) => ({ ...users, integrationId: "gauge", connectionId }));
    const now = Date.now();
    for (const ref of refs) await env.repos.partitions.create(ref, { syncType: "list", now });
    await env.repos.partitions.pause(refs[0] as PartitionRef, "credentials", now);
    await env.repos.partitions.pause(refs[1] as PartitionRef, "credentials", now);
    await env.repos.partitions.pause(refs[2] as PartitionRef, "manual", now);

    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let lines: string[];
    try {
      await plannerHandler({ detail: {} } as ScheduledEvent, context());
    } finally {
      lines = write.mock.calls.flatMap(([chunk]) => String(chunk).split("\n"));
      write.mockRestore();
    }
    const gauge: Record<string, number> = {};
    for (const line of lines.filter((l) => l.includes('"_aws"'))) {
      const emf = JSON.parse(line);
      const directive = emf._aws.CloudWatchMetrics[0];
      if (!directive.Metrics.some((m: { Name: string }) => m.Name === "PartitionsPaused")) continue;
      expect(directive.Dimensions[0]).toEqual(expect.arrayContaining(["reason", "service", "stage"]));
      expect(directive.Metrics).toContainEqual({ Name: "PartitionsPaused", Unit: "Count" });
      gauge[emf.reason] = emf.PartitionsPaused;
    }
    expect(gauge).toEqual({
      credentials: 2,
      manual: 1,
      config: 0,
      revoked: 0,
      source_deleted: 0,
      gateway_key: 0,
      connection_error: 0,
      connection_disabled: 0,
    });
  });

  it("report a record for redelivery when storage fails, and only that record", async () => {
    process.env.TABLE_NAME = "no-such-table";
    resetRuntime();
    try {
      const message = { v: 1, kind: "sync", ...users, trigger: "manual" };
      const response = await workerHandler(
        { Records: [sqsRecord("m1", JSON.stringify(message))] } as SQSEvent,
        context(),
      );
      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m1" }] });
    } finally {
      process.env.TABLE_NAME = env.tableName;
      resetRuntime();
    }
  });
});

/** The planner's message, read from the queue it sent it to. */
async function receiveOne(): Promise<unknown> {
  const { ReceiveMessageCommand } = await import("@aws-sdk/client-sqs");
  const received = await servers.sqs.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: env.queueUrl, MaxNumberOfMessages: 1 }),
  );
  const body = received.Messages?.[0]?.Body;
  if (!body) throw new Error("the planner sent nothing");
  return JSON.parse(body);
}
