/**
 * The paused index (GSI2) on dynalite: every transition into `paused` gives the partition one entry under its reason,
 * every transition out removes it, and the planner's gauge counts exactly those entries. Each pause path of the
 * repository (an API pause, a pause that cuts a running sync off, a sync failing into a pause, the tenant-wide
 * `gateway_key` pause) and each way out (resume, ensure, a key saved again, deletion) is covered.
 */
import { GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pauseTenantForGatewayKey, resumeTenantAfterGatewayKey } from "../../../shared/credentials/tenant-pause.js";
import type { PartitionRef, PauseReason } from "../../../shared/domain/index.js";
import { createDocumentClient } from "../../../shared/storage/client.js";
import { createRepositories } from "../../../shared/storage/index.js";
import { dueShard, keys } from "../../../shared/storage/keys.js";
import type { Repositories } from "../../../shared/storage/ports.js";
import { TABLE_DEFINITION } from "../../../shared/storage/table.js";
import { countPausedPartitions } from "../../../shared/sync/paused-gauge.js";
import { startDynamo, type TestDynamo } from "../../support/dynamo.js";
import { newStore, partitionRef, T0 } from "./fixtures.js";

const MIN = 60_000;
const { pausedIndex } = TABLE_DEFINITION;

describe("paused index", () => {
  let dynamo: TestDynamo;
  let repos: Repositories;
  let tableName: string;
  const ref = partitionRef();

  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(async () => {
    ({ repos, tableName } = await newStore(dynamo));
  });

  /** The paused-index entries of one partition's shard, as the index holds them. */
  async function entries(r: PartitionRef = ref): Promise<string[]> {
    const result = await dynamo.doc.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: pausedIndex.name,
        KeyConditionExpression: "GSI2PK = :pk",
        ExpressionAttributeValues: { ":pk": `PAUSED#${String(dueShard(r)).padStart(2, "0")}` },
      }),
    );
    return (result.Items ?? []).map((item) => String(item.GSI2SK));
  }

  async function rawRow(r: PartitionRef = ref): Promise<Record<string, unknown> | undefined> {
    return (await dynamo.doc.send(new GetCommand({ TableName: tableName, Key: keys.partition(r) }))).Item;
  }

  const entryOf = (reason: PauseReason, r: PartitionRef = ref) =>
    `${reason}#${r.tenantId}#${r.integrationId}#${r.connectionId}#${r.dataType}`;

  async function claimAndLease(r: PartitionRef = ref, jobId = "JOB1") {
    await repos.partitions.claim(r, { jobId, now: T0, requeueDeadline: T0 + 15 * MIN });
    await repos.partitions.acquireLease(r, { jobId, owner: "worker-a", now: T0, leaseMs: 2 * MIN });
  }

  it("pause (idle) enters the index under its reason; resume leaves it", async () => {
    await repos.partitions.create(ref, { syncType: "list", now: T0 });
    expect(await entries()).toEqual([]);

    await repos.partitions.pause(ref, "manual", T0);
    expect(await entries()).toEqual([entryOf("manual")]);
    expect(await repos.partitions.get(ref)).not.toHaveProperty("GSI2PK");

    await repos.partitions.resume(ref, T0 + MIN);
    expect(await entries()).toEqual([]);
    const row = await rawRow();
    expect(row).not.toHaveProperty("GSI2PK");
    expect(row).not.toHaveProperty("GSI2SK");
  });

  it("a pause that cuts a running sync off enters the index", async () => {
    await repos.partitions.create(ref, { syncType: "list", now: T0 });
    await claimAndLease();
    await repos.partitions.pause(ref, "revoked", T0);
    expect(await entries()).toEqual([entryOf("revoked")]);
    expect(await repos.partitions.get(ref)).toMatchObject({ status: "paused", lastJobStatus: "failed" });
  });

  it("a sync failing into a pause enters the index; a retryable failure does not", async () => {
    await repos.partitions.create(ref, { syncType: "list", now: T0 });
    await claimAndLease(ref, "JOB1");
    const failure = {
      owner: "worker-a",
      now: T0 + MIN,
      nextSyncAt: T0 + 2 * MIN,
      error: { code: "INTERNAL_ERROR", message: "boom", retryable: true },
    };
    await repos.partitions.recordFailure(ref, { ...failure, jobId: "JOB1" });
    expect(await entries()).toEqual([]);

    await repos.partitions.claim(ref, { jobId: "JOB2", now: T0 + 3 * MIN, requeueDeadline: T0 + 18 * MIN });
    await repos.partitions.acquireLease(ref, { jobId: "JOB2", owner: "worker-a", now: T0 + 3 * MIN, leaseMs: MIN });
    await repos.partitions.recordFailure(ref, { ...failure, jobId: "JOB2", pause: "credentials" });
    expect(await entries()).toEqual([entryOf("credentials")]);
  });

  it("pausing again for another reason moves the one entry to that reason", async () => {
    await repos.partitions.create(ref, { syncType: "list", now: T0 });
    await repos.partitions.pause(ref, "credentials", T0);
    await repos.partitions.pause(ref, "gateway_key", T0 + MIN);
    expect(await entries()).toEqual([entryOf("gateway_key")]);
  });

  it("ensure resumes a partition paused for a resumable reason and removes its entry; others keep theirs", async () => {
    const other = partitionRef({ dataType: "channels" });
    await repos.partitions.create(ref, { syncType: "list", now: T0 });
    await repos.partitions.create(other, { syncType: "list", now: T0 });
    await repos.partitions.pause(ref, "config", T0);
    await repos.partitions.pause(other, "manual", T0);

    await repos.partitions.ensure(ref, { syncType: "list", now: T0 + MIN });
    await repos.partitions.ensure(other, { syncType: "list", now: T0 + MIN });

    expect(await entries(ref)).not.toContain(entryOf("config"));
    expect(await entries(other)).toContain(entryOf("manual", other));
    expect((await rawRow(other))?.GSI2SK).toBe(entryOf("manual", other));
  });

  it("a purge scheduled on a paused partition keeps its entry; deleting the partition removes it", async () => {
    await repos.partitions.create(ref, { syncType: "list", now: T0 });
    await repos.partitions.pause(ref, "source_deleted", T0);
    expect(await repos.partitions.schedulePurge(ref, T0 + 30 * 24 * 60 * MIN)).toBe(true);
    expect(await entries()).toEqual([entryOf("source_deleted")]);

    await repos.partitions.delete(ref);
    expect(await entries()).toEqual([]);
  });

  it("the tenant-wide gateway_key pause enters every partition, and saving a key resumes them out of the index", async () => {
    const refs = [ref, partitionRef({ connectionId: "c2" }), partitionRef({ integrationId: "github" })];
    for (const r of refs) await repos.partitions.create(r, { syncType: "list", now: T0 });
    await repos.usage.recordIntegration("acme", "slack", { sources: 1, connections: 2 }, T0);
    await repos.usage.recordIntegration("acme", "github", { sources: 1, connections: 1 }, T0);
    const deps = { repos, clock: { now: () => T0 } };

    expect(await pauseTenantForGatewayKey(deps, "acme")).toBe(3);
    expect((await countPausedPartitions(repos)).gateway_key).toBe(3);

    expect(await resumeTenantAfterGatewayKey(deps, "acme")).toBe(3);
    expect((await countPausedPartitions(repos)).gateway_key).toBe(0);
    for (const r of refs) expect(await entries(r)).toEqual([]);
  });

  it("counts every paused partition by reason over all shards, page after page, 0 for reasons with none", async () => {
    const refs = Array.from({ length: 60 }, (_, n) => partitionRef({ connectionId: `conn-${n}` }));
    await Promise.all(refs.map((r) => repos.partitions.create(r, { syncType: "list", now: T0 })));
    const reasons: PauseReason[] = ["credentials", "gateway_key", "manual"];
    // 20 each; the first 5 resumed again, so credentials counts 15.
    await Promise.all(refs.map((r, n) => repos.partitions.pause(r, reasons[n % 3] as PauseReason, T0)));
    await Promise.all(
      refs
        .filter((_, n) => n % 3 === 0)
        .slice(0, 5)
        .map((r) => repos.partitions.resume(r, T0)),
    );
    expect(new Set(refs.map(dueShard)).size).toBeGreaterThan(8);

    // Pages of 2 entries, so every shard with more than two paused partitions is read page after page.
    const doc = createDocumentClient({ endpoint: dynamo.endpoint });
    let queries = 0;
    doc.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { IndexName?: string; Limit?: number };
        if (input.IndexName === pausedIndex.name) {
          input.Limit = 2;
          queries++;
        }
        return next(args);
      },
      { step: "initialize", name: "smallPages" },
    );
    const counts = await countPausedPartitions(createRepositories({ doc, tableName }));
    doc.destroy();
    expect(queries).toBeGreaterThan(16 + 10);
    expect(counts).toEqual({
      credentials: 15,
      config: 0,
      revoked: 0,
      source_deleted: 0,
      manual: 20,
      gateway_key: 20,
      connection_error: 0,
      connection_disabled: 0,
    });
  });
});
