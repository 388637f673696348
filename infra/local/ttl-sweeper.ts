/**
 * DynamoDB TTL on one machine: dynalite has none, so the local stack deletes rows whose `expiresAt` (epoch seconds) has
 * passed — jobs, inactive and deleted items, change-feed rows — on a timer. A Scan is fine here: the local table is
 * small, and in AWS the table's TTL does this without any read.
 */
import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { Logger } from "../../shared/log.js";
import { batchWriteAll } from "../../shared/storage/batch-write.js";
import { TABLE_DEFINITION } from "../../shared/storage/table.js";

/** Deletes every row whose TTL attribute is before `nowSeconds`; returns how many. */
export async function sweepExpired(
  doc: DynamoDBDocumentClient,
  tableName: string,
  nowSeconds: number,
): Promise<number> {
  let deleted = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: "#ttl < :now",
        ExpressionAttributeNames: { "#ttl": TABLE_DEFINITION.ttlAttribute },
        ExpressionAttributeValues: { ":now": nowSeconds },
        ProjectionExpression: "PK, SK",
        ExclusiveStartKey: startKey,
      }),
    );
    const rows = (page.Items ?? []) as { PK: string; SK: string }[];
    if (rows.length > 0) {
      await batchWriteAll(
        doc,
        tableName,
        rows.map((row) => ({ DeleteRequest: { Key: { PK: row.PK, SK: row.SK } } })),
      );
      deleted += rows.length;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return deleted;
}

export interface TtlSweeper {
  stop(): Promise<void>;
}

/** Sweeps every `intervalMs` (never two sweeps at once). */
export function startTtlSweeper(options: {
  doc: DynamoDBDocumentClient;
  tableName: string;
  intervalMs: number;
  now: () => number;
  log: Logger;
}): TtlSweeper {
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return;
    running = sweepExpired(options.doc, options.tableName, Math.floor(options.now() / 1000))
      .then((deleted) => {
        if (deleted > 0) options.log.info("expired rows swept", { deleted });
      })
      .catch((error: unknown) => options.log.warn("TTL sweep failed", { error }))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
