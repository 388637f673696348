/**
 * Change-feed figures (issue 13): what the feed costs to write and to read, counted by a middleware on the
 * DocumentClient (rows written by BatchWriteItem/PutItem/UpdateItem, rows read by Query/Get), on dynalite with the
 * sample gateway, 20,000 Slack users in pages of 1,000.
 *
 * - changeFeed.rowsWrittenPerChangedItem: a resync that changes K items writes about 2 rows per item (the item and its
 *   change row) plus one commit row; the change feed's own share is reported separately.
 * - changeFeed.unchangedResyncFeedRows: feed rows written by an unchanged resync (= 0).
 * - changeFeed.unchangedPollRowsRead: rows a poll with nothing new reads (the partition row only).
 * - changeFeed.rowsReadPerChange.N: rows read to follow the feed through N changes, per change (≈ 1, whatever N).
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import {
  SAMPLE_SOURCES,
  sampleGatewayKey,
  startSampleGateway,
  syntheticSlackUsers,
} from "../../infra/local/sample-gateway/index.js";
import { getChanges } from "../../shared/api/query/changes.js";
import { systemClock } from "../../shared/domain/clock.js";
import type { PartitionRef } from "../../shared/domain/ids.js";
import { sourceInputSchema } from "../../shared/domain/source-config.js";
import { createGatewayClient } from "../../shared/gateway/client.js";
import { createLogger } from "../../shared/log.js";
import { createRepositories } from "../../shared/storage/index.js";
import { ensurePartitionsFor } from "../../shared/sync/partitions.js";
import { runSync } from "../../shared/sync/run-sync.js";
import type { SyncQueue } from "../../shared/sync/sync-queue.js";
import { startDynamo } from "../support/dynamo.js";
import type { BenchFigure } from "./figures.js";

const USERS = 20_000;

interface Counter {
  written: number;
  feedWritten: number;
  read: number;
  reset(): void;
}

function count(doc: DynamoDBDocumentClient): Counter {
  const counter: Counter = {
    written: 0,
    feedWritten: 0,
    read: 0,
    reset() {
      counter.written = 0;
      counter.feedWritten = 0;
      counter.read = 0;
    },
  };
  const isFeed = (sk: unknown) => typeof sk === "string" && (sk.startsWith("CHG#") || sk.startsWith("CLOG#"));
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      // The DocumentClient's own names or the client's, whichever this SDK version reports here.
      const command = String(context.commandName)
        .replace(/^(Put|Update|Delete|Get)ItemCommand$/, "$1Command")
        .replace(/^BatchWriteCommand$/, "BatchWriteItemCommand");
      if (command === "BatchWriteItemCommand") {
        for (const requests of Object.values((input.RequestItems ?? {}) as Record<string, unknown[]>)) {
          for (const request of requests as { PutRequest?: { Item: { SK: unknown } } }[]) {
            counter.written++;
            if (isFeed(request.PutRequest?.Item.SK)) counter.feedWritten++;
          }
        }
      } else if (command === "PutCommand" || command === "UpdateCommand" || command === "DeleteCommand") {
        counter.written++;
        const sk = ((input.Item ?? input.Key) as { SK?: unknown } | undefined)?.SK;
        if (isFeed(sk)) counter.feedWritten++;
      }
      const result = await next(args);
      const output = result.output as { Items?: unknown[]; Item?: unknown; Count?: number };
      if (command === "QueryCommand") counter.read += output.Items?.length ?? 0;
      if (command === "GetCommand" && output.Item) counter.read++;
      return result;
    },
    { step: "initialize", name: "bench-count" },
  );
  return counter;
}

export async function run(): Promise<BenchFigure[]> {
  const [dynamo, gateway] = await Promise.all([startDynamo(), startSampleGateway({ faults: { rate: 0, seed: 1 } })]);
  try {
    const tableName = await dynamo.createTable("changes-bench");
    const repos = createRepositories({ doc: dynamo.doc, tableName });
    const counter = count(dynamo.doc);
    let offset = 0;
    const clock = { now: () => systemClock.now() + offset };
    const log = createLogger({}, "silent");
    const queue: SyncQueue = { send: async () => ({ failed: [], sendBatchCalls: 0 }) };
    const deps = {
      repos,
      gateway: createGatewayClient({
        baseUrl: gateway.url,
        apiKey: async (tenantId) => ({ apiKey: sampleGatewayKey(tenantId), version: "sample" }),
        clock,
      }),
      queue,
      clock,
      log,
    };
    const tenantId = "bench";
    const sample = SAMPLE_SOURCES.find((s) => s.integrationId === "slack" && s.dataType === "users");
    if (!sample) throw new Error("no sample users source");
    await repos.sources.put(
      tenantId,
      "slack",
      "users",
      sourceInputSchema.parse({
        integrationSlug: sample.integrationSlug,
        actionSlug: sample.actionSlug,
        referenceData: {
          ...sample.referenceData,
          pagination: { strategy: "cursor", cursorPath: "$.response_metadata.next_cursor", cursorParam: "cursor" },
          request: { limit: 1000 },
        },
      }),
      clock.now(),
    );
    await repos.connections.enroll(tenantId, "slack", "default", clock.now());
    await ensurePartitionsFor(repos, { tenantId, integrationId: "slack" }, clock.now());
    const ref: PartitionRef = { tenantId, integrationId: "slack", connectionId: "default", dataType: "users" };
    const users = syntheticSlackUsers(USERS, 21);
    const sync = async () => {
      offset += 120_000;
      const outcome = await runSync(
        deps,
        { v: 1, kind: "sync", ...ref, trigger: "manual" },
        { remainingMs: () => 900_000, invocationId: `bench-${offset}` },
      );
      if (outcome.status !== "completed") throw new Error(`sync ${outcome.status}`);
      return outcome;
    };
    const follow = async (since: string | undefined) => {
      let cursor = since;
      let changes = 0;
      for (;;) {
        const page = await getChanges(
          { repos, clock, cursorKeys: { current: "bench-cursor-secret-0123456789" }, retentionDays: 30 },
          {
            tenantId,
            integrationId: "slack",
            query: { dataType: "users", limit: 500, ...(cursor ? { since: cursor } : {}) },
          },
        );
        changes += page.data.changes.length;
        cursor = page.pagination.cursor ?? undefined;
        if (!page.pagination.hasMore) return { cursor, changes };
      }
    };

    gateway.data.slackUsers = users;
    await sync();
    let { cursor } = await follow(undefined);

    counter.reset();
    await sync();
    const unchangedFeedRows = counter.feedWritten;
    counter.reset();
    const poll = await follow(cursor);
    const unchangedPollRows = counter.read;
    cursor = poll.cursor;

    const figures: BenchFigure[] = [
      {
        key: "changeFeed.unchangedResyncFeedRows",
        value: unchangedFeedRows,
        unit: "rows",
        target: "= 0",
        ok: unchangedFeedRows === 0,
      },
      {
        key: "changeFeed.unchangedPollRowsRead",
        value: unchangedPollRows,
        unit: "rows",
        target: "= 1 (the partition row)",
        ok: unchangedPollRows === 1,
      },
    ];
    let generation = 0;
    for (const changed of [100, 1_000]) {
      generation++;
      gateway.data.slackUsers = users.map((u, n) =>
        n < changed ? { ...u, profile: { ...u.profile, real_name: `Renamed ${generation} ${n}` } } : u,
      );
      counter.reset();
      await sync();
      const written = counter.written;
      const feedWritten = counter.feedWritten;
      counter.reset();
      const read = await follow(cursor);
      cursor = read.cursor;
      if (read.changes !== changed) throw new Error(`read ${read.changes} changes, expected ${changed}`);
      figures.push(
        {
          key: `changeFeed.rowsWrittenPerChangedItem.${changed}`,
          value: written / changed,
          unit: "rows",
          target: "≈ 2 (item + change row)",
        },
        {
          key: `changeFeed.feedRowsPerChangedItem.${changed}`,
          value: feedWritten / changed,
          unit: "rows",
          target: "≤ 1.05",
          ok: feedWritten / changed <= 1.05,
        },
        {
          key: `changeFeed.rowsReadPerChange.${changed}`,
          value: counter.read / changed,
          unit: "rows",
          target: `≈ 1 (of ${USERS.toLocaleString("en-US")} items)`,
          ok: counter.read / changed <= 1.1,
        },
      );
    }
    return figures;
  } finally {
    await gateway.stop();
    await dynamo.stop();
  }
}
