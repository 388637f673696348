/**
 * `partition reindex-paused` (infra/ops/ops.ts) on dynalite: rows as a version without the paused index leaves them
 * while it runs beside one with it (the canary, or a rollback) — an entry left on a partition old code resumed, an
 * entry naming the reason before old code paused it again, a paused partition with no entry — are put right, and a
 * partition whose state changes between the Scan and the write (injected by an SDK middleware) keeps its new state.
 */
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { reindexPausedIndex } from "../../../infra/ops/ops.js";
import type { PartitionRef, PauseReason } from "../../../shared/domain/index.js";
import { createDocumentClient } from "../../../shared/storage/client.js";
import { createRepositories } from "../../../shared/storage/index.js";
import { keys } from "../../../shared/storage/keys.js";
import type { Repositories } from "../../../shared/storage/ports.js";
import { countPausedPartitions } from "../../../shared/sync/paused-gauge.js";
import { startDynamo, type TestDynamo } from "../../support/dynamo.js";
import { newStore, partitionRef, T0 } from "./fixtures.js";

const MIN = 60_000;

describe("paused index reindex", () => {
  let dynamo: TestDynamo;
  let repos: Repositories;
  let tableName: string;
  /** Resumed by old code: idle, its entry left behind. */
  const resumedByOld = partitionRef({ dataType: "users" });
  /** Paused by new code for `config`, paused again by old code for `credentials`: the entry still says config. */
  const repausedByOld = partitionRef({ dataType: "channels" });
  /** Paused by old code: no entry. */
  const pausedByOld = partitionRef({ dataType: "groups" });
  /** Paused by new code: right as it is. */
  const pausedByNew = partitionRef({ dataType: "roles" });
  /** Never paused. */
  const idle = partitionRef({ dataType: "teams" });

  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(async () => {
    ({ repos, tableName } = await newStore(dynamo));
  });

  async function rawRow(ref: PartitionRef): Promise<Record<string, unknown> | undefined> {
    return (await dynamo.doc.send(new GetCommand({ TableName: tableName, Key: keys.partition(ref) }))).Item;
  }

  /** A write as the version before the paused index makes it: it sets status and reason, never GSI2PK/GSI2SK. */
  async function writeAsOldCode(ref: PartitionRef, updateExpression: string, values?: Record<string, unknown>) {
    await dynamo.doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: keys.partition(ref),
        UpdateExpression: updateExpression,
        ...(updateExpression.includes("#")
          ? {
              ExpressionAttributeNames: Object.fromEntries(
                Object.entries({ "#status": "status", "#reason": "pauseReason" }).filter(([alias]) =>
                  updateExpression.includes(alias),
                ),
              ),
            }
          : {}),
        ...(values ? { ExpressionAttributeValues: values } : {}),
      }),
    );
  }

  async function setUpMixedVersionRows() {
    for (const ref of [resumedByOld, repausedByOld, pausedByOld, pausedByNew, idle]) {
      await repos.partitions.create(ref, { syncType: "list", now: T0 });
    }
    await repos.partitions.pause(resumedByOld, "manual", T0);
    await writeAsOldCode(resumedByOld, "SET #status = :idle REMOVE #reason", { ":idle": "idle" });
    await repos.partitions.pause(repausedByOld, "config", T0);
    await writeAsOldCode(repausedByOld, "SET #reason = :reason", { ":reason": "credentials" });
    await repos.partitions.pause(pausedByOld, "manual", T0);
    await writeAsOldCode(pausedByOld, "REMOVE GSI2PK, GSI2SK");
    await repos.partitions.pause(pausedByNew, "manual", T0);
  }

  const target = () => ({ repos, table: { doc: dynamo.doc, tableName } });

  it("removes entries of partitions no longer paused, repairs those naming another reason, adds missing ones", async () => {
    await setUpMixedVersionRows();
    // The gauge as it stands: the resumed one counted, the re-paused one under its old reason, the unindexed one missed.
    expect(await countPausedPartitions(repos)).toMatchObject({ manual: 2, config: 1, credentials: 0 });

    const result = await reindexPausedIndex(target());

    expect(result).toEqual({ scannedRows: 5, indexed: 1, repaired: 1, removed: 1, skipped: 0, malformed: [] });
    expect(await countPausedPartitions(repos)).toMatchObject({ manual: 2, config: 0, credentials: 1 });
    const resumed = await rawRow(resumedByOld);
    expect(resumed).toMatchObject({ status: "idle" });
    expect(resumed).not.toHaveProperty("GSI2PK");
    expect(resumed).not.toHaveProperty("GSI2SK");
    expect(await rawRow(repausedByOld)).toMatchObject({
      status: "paused",
      pauseReason: "credentials",
      ...keys.paused(repausedByOld, "credentials"),
    });
    expect(await rawRow(pausedByOld)).toMatchObject(keys.paused(pausedByOld, "manual"));
    expect(await rawRow(pausedByNew)).toMatchObject(keys.paused(pausedByNew, "manual"));
    expect(await rawRow(idle)).not.toHaveProperty("GSI2PK");

    // Nothing left to do.
    expect(await reindexPausedIndex(target())).toMatchObject({ indexed: 0, repaired: 0, removed: 0, skipped: 0 });
  });

  it("a pause or resume between the Scan and the write wins: the write's condition fails and it is counted skipped", async () => {
    await setUpMixedVersionRows();
    // Another process (new code) changes each row the reindex is about to write, just before its write.
    const other = createDocumentClient({ endpoint: dynamo.endpoint });
    const concurrent = createRepositories({ doc: other, tableName });
    const changes: [PartitionRef, (ref: PartitionRef) => Promise<void>][] = [
      [resumedByOld, (ref) => concurrent.partitions.pause(ref, "manual", T0 + MIN)],
      [repausedByOld, (ref) => concurrent.partitions.resume(ref, T0 + MIN)],
      [pausedByOld, (ref) => concurrent.partitions.resume(ref, T0 + MIN)],
    ];
    const changed = new Set<string>();
    dynamo.doc.middlewareStack.add(
      (next, context) => async (args) => {
        // The document client's update, its key marshalled or not by the time it gets here.
        if (/^Update(Item)?Command$/.test(String(context.commandName))) {
          const key = JSON.stringify((args.input as { Key?: unknown }).Key);
          const change = changes.find(([ref]) => {
            const { PK, SK } = keys.partition(ref);
            return key.includes(JSON.stringify(PK)) && key.includes(JSON.stringify(SK));
          });
          if (change && !changed.has(key)) {
            changed.add(key);
            await change[1](change[0]);
          }
        }
        return next(args);
      },
      { step: "initialize", name: "concurrentChange" },
    );
    let result: Awaited<ReturnType<typeof reindexPausedIndex>>;
    try {
      result = await reindexPausedIndex(target());
    } finally {
      dynamo.doc.middlewareStack.remove("concurrentChange");
      other.destroy();
    }

    expect(changed.size).toBe(3);
    expect(result).toMatchObject({ indexed: 0, repaired: 0, removed: 0, skipped: 3 });
    // Paused again by new code: its (right) entry stays.
    expect(await rawRow(resumedByOld)).toMatchObject({ status: "paused", ...keys.paused(resumedByOld, "manual") });
    // Resumed by new code: no entry, none put back.
    for (const ref of [repausedByOld, pausedByOld]) {
      const row = await rawRow(ref);
      expect(row).toMatchObject({ status: "idle" });
      expect(row).not.toHaveProperty("GSI2PK");
    }
    const reasons: PauseReason[] = ["manual", "config", "credentials"];
    const counts = await countPausedPartitions(repos);
    expect(reasons.map((reason) => counts[reason])).toEqual([2, 0, 0]);
  });
});
