/**
 * Bulk deletes for the lifecycle: every row under one partition key (a purge), and the pages of a filtered Scan for a
 * tenant's rows (erasure: a tenant's rows live under many partition keys, and API key rows under `KEY#` hashes, so no
 * Query reaches them all). Deletes go 25 per BatchWriteItem with the usual retry of unprocessed items.
 */
import { type DynamoDBDocumentClient, QueryCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { batchWriteAll, type RetryOptions, type WriteRequest } from "../storage/batch-write.js";
import { keys } from "../storage/keys.js";

export interface TableRows {
  /** Deletes every row whose PK is `pk`; returns how many. */
  deletePartitionKey(pk: string): Promise<number>;
  /**
   * One Scan page of the tenant's rows (every PK under `T#{t}`, and API key rows of the tenant), deleting those
   * `keep` does not retain. Returns the rows deleted and where the Scan goes on.
   */
  eraseTenantPage(
    tenantId: string,
    startKey: Record<string, string> | undefined,
    keep: (row: { PK: string; SK: string }) => boolean,
  ): Promise<{ deleted: number; kept: number; nextKey?: Record<string, string> }>;
}

const SCAN_PAGE = 1_000;

export function createTableRows(doc: DynamoDBDocumentClient, tableName: string, retry: RetryOptions = {}): TableRows {
  const remove = async (rows: { PK: string; SK: string }[]) => {
    if (rows.length === 0) return;
    const requests: WriteRequest[] = rows.map((row) => ({ DeleteRequest: { Key: { PK: row.PK, SK: row.SK } } }));
    await batchWriteAll(doc, tableName, requests, retry);
  };
  return {
    async deletePartitionKey(pk) {
      let deleted = 0;
      for (;;) {
        // Always from the start: the rows just deleted are gone, so each page is the next one.
        const page = await doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: "PK = :pk",
            ExpressionAttributeValues: { ":pk": pk },
            ProjectionExpression: "PK, SK",
            Limit: SCAN_PAGE,
          }),
        );
        const rows = (page.Items ?? []) as { PK: string; SK: string }[];
        await remove(rows);
        deleted += rows.length;
        if (!page.LastEvaluatedKey || rows.length === 0) return deleted;
      }
    },
    async eraseTenantPage(tenantId, startKey, keep) {
      const page = await doc.send(
        new ScanCommand({
          TableName: tableName,
          FilterExpression: "begins_with(PK, :prefix) OR PK = :pk OR (begins_with(PK, :key) AND tenantId = :t)",
          ExpressionAttributeValues: {
            ":prefix": keys.tenantPrefix(tenantId),
            ":pk": keys.tenantPk(tenantId),
            ":key": "KEY#",
            ":t": tenantId,
          },
          ProjectionExpression: "PK, SK",
          Limit: SCAN_PAGE,
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      const rows = (page.Items ?? []) as { PK: string; SK: string }[];
      const doomed = rows.filter((row) => !keep(row));
      await remove(doomed);
      const result: { deleted: number; kept: number; nextKey?: Record<string, string> } = {
        deleted: doomed.length,
        kept: rows.length - doomed.length,
      };
      if (page.LastEvaluatedKey) result.nextKey = page.LastEvaluatedKey as Record<string, string>;
      return result;
    },
  };
}
