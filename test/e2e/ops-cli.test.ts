/**
 * `npm run ops` against a running local stack (dynalite, fauxqs and the worker polling, on free ports): the DLQ
 * commands on a message the worker dead-lettered itself and one SQS would have redriven, and the partition and tenant
 * commands on a real partition.
 */
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAMPLE_SOURCES } from "../../infra/local/sample-gateway/index.js";
import { LOCAL_TABLE_NAME, type LocalStack, startLocalStack } from "../../infra/local/stack.js";
import { main } from "../../infra/ops/cli.js";
import type { Partition } from "../../shared/domain/entities.js";
import type { PartitionRef } from "../../shared/domain/ids.js";
import { sourceInputSchema } from "../../shared/domain/source-config.js";
import { createLogger } from "../../shared/log.js";
import { createDocumentClient } from "../../shared/storage/client.js";
import { keys } from "../../shared/storage/keys.js";
import { ensurePartitionsFor } from "../../shared/sync/partitions.js";
import { countPausedPartitions } from "../../shared/sync/paused-gauge.js";
import { eventually } from "./support/eventually.js";
import { storeSampleGatewayKey } from "./support/local-api.js";

const TENANT = "ops-tenant";
const ref: PartitionRef = { tenantId: TENANT, integrationId: "slack", connectionId: "default", dataType: "users" };
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    dynamoPort: 0,
    sqsPort: 0,
    sampleGatewayPort: 0,
    dataDir: null,
    seedDemo: false,
    scheduleSeconds: 3600,
    workerTimeoutSeconds: 60,
    shutdownGraceMs: 10_000,
    logLevel: "error",
    log: createLogger({}, "silent"),
  });
  const sample = SAMPLE_SOURCES.find((s) => s.integrationId === "slack" && s.dataType === "users");
  if (!sample) throw new Error("no sample users source");
  const now = Date.now();
  await stack.repos.sources.put(
    TENANT,
    "slack",
    "users",
    sourceInputSchema.parse({
      integrationSlug: sample.integrationSlug,
      actionSlug: sample.actionSlug,
      referenceData: sample.referenceData,
    }),
    now,
  );
  await stack.repos.connections.enroll(TENANT, "slack", "default", now);
  await ensurePartitionsFor(stack.repos, { tenantId: TENANT, integrationId: "slack" }, now);
  // The tenant's own Waygate key: without it, the resync below fails and pauses the tenant (gateway_key) at a moment
  // that depends on the machine's load, racing the pause the last test makes.
  await storeSampleGatewayKey(stack, TENANT);
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

/** Runs `npm run ops -- <args>` in-process against the local stack's ports. */
async function ops(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    [...args, "--dynamodb-endpoint", stack.endpoints.dynamodb, "--sqs-endpoint", stack.endpoints.sqs],
    { out: (line) => out.push(line), err: (line) => err.push(line) },
    {},
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function json<T>(...args: string[]): Promise<T> {
  const result = await ops(...args);
  expect(result.code, result.err).toBe(0);
  return JSON.parse(result.out) as T;
}

const partitionArgs = [ref.tenantId, ref.integrationId, ref.connectionId, ref.dataType];

interface Letter {
  messageId: string;
  reason?: string;
  valid: boolean;
  summary: string;
}

describe("npm run ops against the local stack", () => {
  it("lists, shows, redrives and purges dead letters, including ones the worker dead-lettered itself", async () => {
    const client = new SQSClient({
      region: "us-east-1",
      endpoint: stack.endpoints.sqs,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    try {
      // The worker dead-letters a malformed message itself, with its reason.
      await client.send(new SendMessageCommand({ QueueUrl: stack.queue.url, MessageBody: "{ not json" }));
      // A valid message as SQS's redrive leaves it after 5 failed receives: no reason attribute.
      const valid = { v: 1, kind: "sync", ...ref, trigger: "manual", mode: "full" };
      await client.send(new SendMessageCommand({ QueueUrl: stack.queue.dlqUrl, MessageBody: JSON.stringify(valid) }));

      const letters = await eventually(
        async () => {
          const listed = await json<Letter[]>("dlq", "list", "--json");
          return listed.length === 2 ? listed : undefined;
        },
        { what: "two dead letters" },
      );
      const malformed = letters.find((l) => !l.valid);
      const redrivable = letters.find((l) => l.valid);
      expect(malformed?.reason).toMatch(/not valid JSON/);
      expect(redrivable).toMatchObject({ summary: `sync ${TENANT}/slack/default/users` });
      const text = await ops("dlq", "list");
      expect(text.out).toContain("2 dead letter(s)");

      const shown = await json<Letter & { body: string }>("dlq", "show", malformed?.messageId ?? "");
      expect(shown.body).toBe("{ not json");
      expect((await ops("dlq", "show", "no-such-id")).code).toBe(1);

      expect((await ops("dlq", "redrive")).code).toBe(2);
      const redrive = await json<{ redriven: string[]; skipped: { messageId: string }[] }>("dlq", "redrive", "--all");
      expect(redrive.redriven).toEqual([redrivable?.messageId]);
      expect(redrive.skipped.map((s) => s.messageId)).toEqual([malformed?.messageId]);
      // The redriven message reached the worker: a manual job for the partition.
      await eventually(
        async () => {
          const report = await json<{ recentJobs: { trigger: string }[] }>("partition", "show", ...partitionArgs);
          return report.recentJobs.some((job) => job.trigger === "manual") ? true : undefined;
        },
        { what: "the redriven sync ran" },
      );
      expect((await json<Letter[]>("dlq", "list", "--json")).map((l) => l.messageId)).toEqual([malformed?.messageId]);

      expect((await ops("dlq", "purge")).code).toBe(2);
      expect((await ops("dlq", "purge", "--yes")).code).toBe(0);
      expect(await json<Letter[]>("dlq", "list", "--json")).toEqual([]);
    } finally {
      client.destroy();
    }
  }, 60_000);

  it("shows a partition, refuses to resync a paused one, resumes it, and resyncs it", async () => {
    const shown = await json<{ partition: Partition }>("partition", "show", ...partitionArgs);
    expect(shown.partition).toMatchObject({ tenantId: TENANT, dataType: "users" });
    expect((await ops("partition", "show", TENANT, "slack", "default", "nothing")).code).toBe(1);
    expect((await ops("partition", "show", TENANT, "slack")).code).toBe(2);

    // Whatever the redriven sync made of it (idle, failed, or paused if the gateway refused the tenant): not in flight.
    await eventually(async () => {
      const partition = await stack.repos.partitions.get(ref);
      return partition && partition.status !== "queued" && partition.status !== "syncing" ? partition : undefined;
    });
    await stack.repos.partitions.pause(ref, "credentials", Date.now());
    const refused = await ops("partition", "resync", ...partitionArgs);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("paused (credentials)");

    const resumed = await json<{ resumed: Partition }>("partition", "resume", ...partitionArgs);
    expect(resumed.resumed).toMatchObject({ status: "idle" });
    expect(resumed.resumed.pauseReason).toBeUndefined();

    const before = (await stack.repos.jobs.list(TENANT, "slack", { limit: 50 })).items.length;
    const queued = await json<{ queued: { mode: string; trigger: string } }>(
      "partition",
      "resync",
      ...partitionArgs,
      "--mode",
      "full",
    );
    expect(queued.queued).toMatchObject({ mode: "full", trigger: "manual" });
    await eventually(
      async () =>
        (await stack.repos.jobs.list(TENANT, "slack", { limit: 50 })).items.length > before ? true : undefined,
      { what: "the resync's job" },
    );
  }, 60_000);

  it("shows a tenant's partitions by status with the paused ones and their reason", async () => {
    await stack.repos.partitions.pause(ref, "config", Date.now());

    const report = await json<{
      tenantId: string;
      integrations: { integrationId: string; sources: number; partitions: Record<string, number>; paused: unknown[] }[];
    }>("tenant", "show", TENANT, "--integration", "slack");

    expect(report.tenantId).toBe(TENANT);
    expect(report.integrations[0]).toMatchObject({
      integrationId: "slack",
      sources: 1,
      partitions: { paused: 1 },
      paused: [{ connectionId: "default", dataType: "users", reason: "config" }],
    });
    expect((await ops("tenant", "show", TENANT)).code).toBe(2);
    expect((await ops("nonsense")).code).toBe(2);
  });

  it("reindexes the paused index after old code wrote beside new: adds, repairs and removes entries, once", async () => {
    const noEntry: PartitionRef = { ...ref, integrationId: "legacy" };
    const staleEntry: PartitionRef = { ...ref, integrationId: "legacy-resumed" };
    const wrongReason: PartitionRef = { ...ref, integrationId: "legacy-repaused" };
    for (const r of [noEntry, staleEntry, wrongReason]) {
      await stack.repos.partitions.create(r, { syncType: "list", now: Date.now() });
      await stack.repos.partitions.pause(r, "manual", Date.now());
    }
    const before = await countPausedPartitions(stack.repos);
    // Rows as a version without the paused index writes them (it never sets or removes GSI2PK/GSI2SK): one paused
    // with no entry, one resumed with its entry left, one paused again for another reason under the old entry.
    const doc = createDocumentClient({ endpoint: stack.endpoints.dynamodb });
    const oldCode = (r: PartitionRef, expression: string, values?: Record<string, unknown>) =>
      doc.send(
        new UpdateCommand({
          TableName: LOCAL_TABLE_NAME,
          Key: keys.partition(r),
          UpdateExpression: expression,
          ...(values ? { ExpressionAttributeNames: { "#s": "status", "#r": "pauseReason" } } : {}),
          ...(values ? { ExpressionAttributeValues: values } : {}),
        }),
      );
    try {
      await oldCode(noEntry, "REMOVE GSI2PK, GSI2SK");
      await oldCode(staleEntry, "SET #s = :idle REMOVE #r", { ":idle": "idle" });
      await oldCode(wrongReason, "SET #s = :paused, #r = :reason", { ":paused": "paused", ":reason": "config" });
    } finally {
      doc.destroy();
    }
    // The gauge now misses the first, still counts the resumed one, and counts the third as manual: 2 of 3 under manual.
    expect((await countPausedPartitions(stack.repos)).manual).toBe((before.manual ?? 0) - 1);

    const first = await json<{ scannedRows: number }>("partition", "reindex-paused");
    expect(first).toMatchObject({ indexed: 1, repaired: 1, removed: 1, skipped: 0, malformed: [] });
    expect(first.scannedRows).toBeGreaterThan(3);
    const after = await countPausedPartitions(stack.repos);
    expect(after.manual).toBe((before.manual ?? 0) - 2);
    expect(after.config).toBe((before.config ?? 0) + 1);

    // Nothing left; the old name still runs it.
    const none = { indexed: 0, repaired: 0, removed: 0, skipped: 0 };
    expect(await json("partition", "reindex-paused")).toMatchObject(none);
    expect(await json("partition", "backfill-paused")).toMatchObject(none);
  });
});
