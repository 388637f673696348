/**
 * What the planner's PartitionsPaused gauge costs each run (shared/sync/paused-gauge.ts), measured on dynalite with
 * the real repository: the paused index is sparse, so only paused partitions are in it and the 250,000-partition
 * fleet's other rows cost nothing; they are represented by a sample of unpaused partitions beside the paused ones.
 * IDs are UUID-sized (36 characters for tenant and connection), the long end of real ones.
 *
 * Read units are dynalite's ConsumedCapacity per Query (0.5 per 4 KB, eventually consistent), raised to DynamoDB's
 * minimum of 0.5 for a Query that reads nothing (dynalite reports 0 there).
 *
 * Figures (`scale.pausedGauge.*`): read units and Queries of one run with nothing paused, and with PAUSED of the
 * 250,000 partitions paused (5%, e.g. a few hundred tenants with a bad key), the bytes per index entry, and the
 * run's wall time on dynalite.
 */
import { randomUUID } from "node:crypto";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { PauseReason } from "../../shared/domain/entities.js";
import type { PartitionRef } from "../../shared/domain/ids.js";
import { batchWriteAll, createRepositories, keys, type WriteRequest } from "../../shared/storage/index.js";
import { countPausedPartitions } from "../../shared/sync/paused-gauge.js";
import { startDynamo } from "../support/dynamo.js";
import type { BenchFigure } from "./figures.js";

const PARTITIONS = 250_000;
const PAUSED = 12_500;
/** Unpaused partitions written beside the paused ones: the index must not see them. */
const UNPAUSED_SAMPLE = 2_500;
const REASONS: PauseReason[] = ["gateway_key", "credentials", "connection_error", "manual", "config"];

interface QueryCost {
  queries: number;
  readUnits: number;
  bytes: number;
}

/** Counts the paused index's Queries and their read units. */
function countQueries(doc: DynamoDBDocumentClient): { current: QueryCost } {
  const holder = { current: { queries: 0, readUnits: 0, bytes: 0 } };
  doc.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { IndexName?: string; ReturnConsumedCapacity?: string };
      if (input.IndexName === undefined) return next(args);
      input.ReturnConsumedCapacity = "TOTAL";
      const result = await next(args);
      const output = result.output as { ConsumedCapacity?: { CapacityUnits?: number } };
      holder.current.queries++;
      holder.current.readUnits += Math.max(0.5, output.ConsumedCapacity?.CapacityUnits ?? 0);
      return result;
    },
    { step: "initialize", name: "pausedGaugeCounter" },
  );
  return holder;
}

function partitionRow(ref: PartitionRef, reason?: PauseReason): Record<string, unknown> {
  const base = { ...keys.partition(ref), entity: "partition", ...ref, syncType: "list" };
  if (reason === undefined) return { ...base, status: "idle", ...keys.due(ref, new Date(0).toISOString()) };
  return { ...base, status: "paused", pauseReason: reason, ...keys.paused(ref, reason) };
}

/** Bytes of one index entry as DynamoDB sizes it: attribute names and string values (keys only). */
function entryBytes(ref: PartitionRef, reason: PauseReason): number {
  const entry = { ...keys.partition(ref), ...keys.paused(ref, reason) };
  return Object.entries(entry).reduce((sum, [name, value]) => sum + name.length + Buffer.byteLength(value), 0);
}

export async function run(): Promise<BenchFigure[]> {
  const dynamo = await startDynamo();
  try {
    const tableName = await dynamo.createTable("paused-gauge");
    const counter = countQueries(dynamo.doc);
    const repos = createRepositories({ doc: dynamo.doc, tableName });

    counter.current = { queries: 0, readUnits: 0, bytes: 0 };
    await countPausedPartitions(repos);
    const none = counter.current;

    const refs: { ref: PartitionRef; reason?: PauseReason }[] = [];
    for (let n = 0; n < PAUSED + UNPAUSED_SAMPLE; n++) {
      const ref: PartitionRef = {
        tenantId: randomUUID(),
        integrationId: "slack",
        connectionId: randomUUID(),
        dataType: "users",
      };
      refs.push(n < PAUSED ? { ref, reason: REASONS[n % REASONS.length] as PauseReason } : { ref });
    }
    const requests: WriteRequest[] = refs.map(({ ref, reason }) => ({
      PutRequest: { Item: partitionRow(ref, reason) },
    }));
    await batchWriteAll(dynamo.doc, tableName, requests);

    counter.current = { queries: 0, readUnits: 0, bytes: 0 };
    const started = performance.now();
    const counts = await countPausedPartitions(repos);
    const ms = performance.now() - started;
    const paused = counter.current;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    if (total !== PAUSED) throw new Error(`the gauge counted ${total} paused partitions, not ${PAUSED}`);
    const bytes = refs
      .slice(0, 100)
      .reduce((sum, { ref, reason }) => sum + entryBytes(ref, reason ?? "gateway_key"), 0);

    return [
      {
        key: "scale.pausedGauge.readUnitsNonePaused",
        value: none.readUnits,
        unit: "RRU/run",
        target: "16 Queries × 0.5",
        ok: none.readUnits === 8,
      },
      { key: "scale.pausedGauge.queriesNonePaused", value: none.queries, unit: "Queries" },
      {
        key: "scale.pausedGauge.readUnits",
        value: paused.readUnits,
        unit: `RRU/run (${PAUSED.toLocaleString("en-US")} of ${PARTITIONS.toLocaleString("en-US")} paused)`,
        target: "≤ 500",
        ok: paused.readUnits <= 500,
      },
      { key: "scale.pausedGauge.queries", value: paused.queries, unit: "Queries" },
      { key: "scale.pausedGauge.entryBytes", value: Math.round(bytes / 100), unit: "bytes/entry" },
      { key: "scale.pausedGauge.ms", value: Math.round(ms), unit: "ms (dynalite)" },
    ];
  } finally {
    await dynamo.stop();
  }
}
