/** Items of list partitions: one row per external ID under the partition's data key. */

import { BatchGetCommand, type DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mapLimit } from "../concurrency.js";
import { iso } from "../domain/clock.js";
import { InternalError, ValidationError } from "../domain/errors.js";
import { type Item, type ItemStatus, itemSchema, itemStatusSchema, type PartitionRef } from "../domain/index.js";
import { parseOrThrow } from "../domain/validate.js";
import { batchWriteAll, type RetryOptions, type WriteRequest } from "./batch-write.js";
import { backoffMs, isConditionFailed, sleep } from "./ddb.js";
import { dataPk, keys } from "./keys.js";
import type { ItemListFilter, ItemRepository, ItemSummary, Manifest, Page, StatusChangedRow } from "./ports.js";
import { checkLimit, checkStartKey, fillPage, parseRow, queryPrefix, type Row, UpdateBuilder } from "./rows.js";

/** DynamoDB's item size limit. The JSON length of a row slightly overestimates its stored size, erring safe. */
export const MAX_ITEM_BYTES = 400 * 1024;

/** UpdateItems in flight at once in setStatus: enough to be quick, few enough not to throttle a partition. */
const STATUS_CONCURRENCY = 16;
/** DynamoDB's most keys in one BatchGetItem, and how often unprocessed keys are retried. */
const BATCH_GET_LIMIT = 100;
const BATCH_GET_ATTEMPTS = 8;

export class DynamoItemRepository implements ItemRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retry: RetryOptions = {},
  ) {}

  /**
   * Writes items 25 per BatchWriteItem. The same externalId twice keeps the last (DynamoDB rejects a batch that
   * names one key twice). Every row is checked against the item size limit before anything is written.
   */
  async batchPut(ref: PartitionRef, items: Item[]): Promise<{ requests: number }> {
    const rows = new Map<string, Row>();
    for (const item of items) {
      const row: Row = { ...keys.item(ref, item.externalId), entity: "item", ...item };
      const bytes = Buffer.byteLength(JSON.stringify(row), "utf8");
      if (bytes > MAX_ITEM_BYTES) {
        throw new ValidationError(`Item '${item.externalId.slice(0, 200)}' is ${bytes} bytes, over the 400 KB limit`, {
          field: "item",
          externalId: item.externalId,
          bytes,
        });
      }
      rows.set(item.externalId, row);
    }
    const requests: WriteRequest[] = [...rows.values()].map((Item) => ({ PutRequest: { Item } }));
    return batchWriteAll(this.doc, this.tableName, requests, this.retry);
  }

  async setStatus(
    ref: PartitionRef,
    externalIds: string[],
    status: ItemStatus,
    input: { jobId: string; now: number; expiresAt?: number },
  ): Promise<{ updated: number; rows: StatusChangedRow[] }> {
    parseOrThrow(itemStatusSchema, status, "item status", "status");
    const ids = [...new Set(externalIds)];
    const itemKeys = ids.map((id) => keys.item(ref, id));
    const now = iso(input.now);
    const results = await mapLimit(itemKeys, STATUS_CONCURRENCY, async (Key) => {
      const update = new UpdateBuilder().setAll({ status, jobId: input.jobId, change: "status", updatedAt: now });
      if (status === "inactive")
        update.setExpression("inactiveSince", `if_not_exists(${update.n("inactiveSince")}, ${update.v(now)})`);
      // Lifecycle: an item out of `active` expires (DynamoDB TTL) after the retention; one that comes back does not.
      if (status !== "active" && input.expiresAt !== undefined) update.set("expiresAt", input.expiresAt);
      if (status === "active") update.remove("inactiveSince", "expiresAt");
      try {
        const result = await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key,
            UpdateExpression: update.updateExpression,
            ConditionExpression: "attribute_exists(PK)",
            ReturnValues: "ALL_NEW",
            ...update.attributes,
          }),
        );
        const row = result.Attributes ?? {};
        return {
          externalId: String(row.externalId),
          name: typeof row.name === "string" ? row.name : String(row.externalId),
          metadata: isRecord(row.metadata) ? row.metadata : {},
          status,
        };
      } catch (error) {
        // A missing item is skipped: it was never written, so there is nothing to mark.
        if (isConditionFailed(error)) return undefined;
        throw error;
      }
    });
    const rows = results.filter((row): row is StatusChangedRow => row !== undefined);
    return { updated: rows.length, rows };
  }

  async get(ref: PartitionRef, externalId: string): Promise<Item | undefined> {
    const result = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.item(ref, externalId) }));
    return result.Item ? parseRow(itemSchema, result.Item, "item") : undefined;
  }

  /** Retries unprocessed keys with the batch writes' backoff (retry.sleep), so throttling loses no item. */
  async getMany(
    ref: PartitionRef,
    externalIds: readonly string[],
    options: { consistent?: boolean } = {},
  ): Promise<Item[]> {
    const byId = new Map<string, Item>();
    const ids = [...new Set(externalIds)];
    for (let from = 0; from < ids.length; from += BATCH_GET_LIMIT) {
      let pending: Record<string, unknown>[] = ids
        .slice(from, from + BATCH_GET_LIMIT)
        .map((id) => ({ ...keys.item(ref, id) }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await (this.retry.sleep ?? sleep)(backoffMs(attempt));
        const result = await this.doc.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: options.consistent === true } },
          }),
        );
        for (const row of result.Responses?.[this.tableName] ?? []) {
          const item = parseRow(itemSchema, row, "item");
          byId.set(item.externalId, item);
        }
        pending = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
        if (pending.length > 0 && attempt >= BATCH_GET_ATTEMPTS) {
          throw new InternalError(`BatchGetItem left ${pending.length} keys unprocessed after ${attempt + 1} attempts`);
        }
      }
    }
    return externalIds.flatMap((id) => byId.get(id) ?? []);
  }

  /**
   * One page of items in externalId order. With a status filter, keeps querying until `limit` matches or the end;
   * `nextKey` is then the key of the last item returned, so the next page starts right after it.
   */
  async list(ref: PartitionRef, filter: ItemListFilter): Promise<Page<Item>> {
    const limit = checkLimit(filter.limit);
    const pk = dataPk(ref);
    const startKey = checkStartKey(filter.startKey, { PK: pk }, ["SK"], { SK: keys.itemPrefix });
    const status =
      filter.status === undefined ? undefined : parseOrThrow(itemStatusSchema, filter.status, "item status", "status");
    return fillPage(
      this.doc,
      this.tableName,
      {
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ...(status === undefined
          ? { ExpressionAttributeValues: { ":pk": pk, ":prefix": keys.itemPrefix } }
          : {
              FilterExpression: "#status = :status",
              ExpressionAttributeNames: { "#status": "status" },
              ExpressionAttributeValues: { ":pk": pk, ":prefix": keys.itemPrefix, ":status": status },
            }),
      },
      {
        limit,
        startKey,
        // Filtered queries read ahead: most rows usually match, and a page of one row per call would be slow.
        readAhead: (remaining) => (status === undefined ? remaining : Math.min(1_000, Math.max(remaining, 100))),
        ...(filter.maxBytes === undefined ? {} : { maxBytes: filter.maxBytes }),
      },
      (row) => parseRow(itemSchema, row, "item"),
    );
  }

  async listAll(ref: PartitionRef): Promise<Item[]> {
    const items: Item[] = [];
    await this.queryAll(ref, undefined, (row) => items.push(parseRow(itemSchema, row, "item")));
    return items;
  }

  /**
   * The fields a lookup index needs, through a projection and without a full schema parse: the cold path of the
   * first lookup after a sync reads every item of the partition.
   */
  async listSummaries(ref: PartitionRef, options: { consistent?: boolean } = {}): Promise<ItemSummary[]> {
    const items: ItemSummary[] = [];
    await this.queryAll(
      ref,
      "externalId, #name, lookup, metadata, #status, updatedAt",
      (row) => {
        const status = itemStatusSchema.safeParse(row.status);
        if (typeof row.externalId !== "string" || typeof row.name !== "string" || !status.success) {
          throw new InternalError(`Stored item row ${String(row.externalId)} has no name or status`);
        }
        items.push({
          externalId: row.externalId,
          name: row.name,
          lookup: isRecord(row.lookup) ? (row.lookup as Record<string, string>) : {},
          metadata: isRecord(row.metadata) ? row.metadata : {},
          status: status.data,
          updatedAt: typeof row.updatedAt === "string" ? row.updatedAt : "",
        });
      },
      { "#name": "name" },
      options.consistent,
    );
    return items;
  }

  /** Hash and status only, through a projection: a fraction of the network cost of listAll. */
  async loadHashes(ref: PartitionRef): Promise<Manifest> {
    const manifest: Manifest = new Map();
    await this.queryAll(ref, "externalId, contentHash, #status", (row) => {
      const status = itemStatusSchema.safeParse(row.status);
      if (typeof row.externalId !== "string" || typeof row.contentHash !== "string" || !status.success) {
        throw new InternalError(`Stored item row ${String(row.externalId)} has no hash or status`);
      }
      manifest.set(row.externalId, { hash: row.contentHash, status: status.data });
    });
    return manifest;
  }

  private async queryAll(
    ref: PartitionRef,
    projection: string | undefined,
    visit: (row: Row) => void,
    extraNames: Record<string, string> = {},
    consistent?: boolean,
  ): Promise<void> {
    const query = {
      pk: dataPk(ref),
      prefix: keys.itemPrefix,
      ...(projection ? { projection, names: { "#status": "status", ...extraNames } } : {}),
      ...(consistent ? { consistent } : {}),
    };
    for await (const row of queryPrefix(this.doc, this.tableName, query)) visit(row);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
