/**
 * Large values (manifests, objects, checkpoints as JSON; lookup index snapshots as bytes) gzipped and cut into Binary chunks of at most 350 KB, one row
 * per chunk, because a DynamoDB item stops at 400 KB. Every chunk of one write carries the chunk count and a random
 * write token, so a reader detects a torn or half-overwritten blob instead of returning garbage.
 */
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { NotFoundError, ValidationError } from "../domain/errors.js";
import { batchWriteAll, type RetryOptions, type WriteRequest } from "./batch-write.js";
import type { Key } from "./keys.js";
import { type Entity, queryPrefix, type Row } from "./rows.js";

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Bytes of gzipped data per chunk row: leaves room under the 400 KB item limit for keys and attributes. */
export const BLOB_CHUNK_BYTES = 350 * 1024;

/** Where one blob's chunks live: chunk n is at `chunkKey(n)`, all under one partition key and SK prefix. */
export interface BlobLocation {
  chunkKey: (n: number) => Key;
  /** SK prefix shared by every chunk of this blob (and of no other). */
  prefix: string;
  entity: Entity;
}

export interface BlobWriteResult {
  chunks: number;
  /** Size of the JSON before compression. */
  bytes: number;
  /** Size after compression: what is stored. */
  storedBytes: number;
  requests: number;
  /** The write's random token, on every chunk: it names this write among all writes under the location. */
  token: string;
}

export class BlobStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retry: RetryOptions = {},
  ) {}

  /** Writes `value` under `location`; `extra` attributes (e.g. expiresAt) go on every chunk. */
  async write(location: BlobLocation, value: unknown, extra: Row = {}): Promise<BlobWriteResult> {
    const json = JSON.stringify(value);
    if (json === undefined) throw new ValidationError("Cannot store an undefined value");
    return this.writeBytes(location, Buffer.from(json, "utf8"), extra);
  }

  /** Writes raw bytes under `location` (gzipped and chunked like `write`). */
  async writeBytes(location: BlobLocation, raw: Uint8Array, extra: Row = {}): Promise<BlobWriteResult> {
    const compressed = await gzipAsync(raw);
    const total = Math.max(1, Math.ceil(compressed.length / BLOB_CHUNK_BYTES));
    const token = randomBytes(8).toString("hex");
    const bytes = raw.byteLength;
    const requests: WriteRequest[] = [];
    for (let n = 0; n < total; n++) {
      const data = compressed.subarray(n * BLOB_CHUNK_BYTES, (n + 1) * BLOB_CHUNK_BYTES);
      requests.push({
        PutRequest: {
          Item: { ...extra, ...location.chunkKey(n), entity: location.entity, n, total, token, bytes, data },
        },
      });
    }
    const { requests: calls } = await batchWriteAll(this.doc, this.tableName, requests, this.retry);
    return { chunks: total, bytes, storedBytes: compressed.length, requests: calls, token };
  }

  /**
   * Reads the blob written in `chunks` chunks. undefined when no chunk exists at all; NotFoundError when the stored
   * chunks do not form one complete write of that many chunks (a caller with a stale count, or a torn write).
   */
  async read(
    location: BlobLocation,
    chunks: number,
    options: { consistent?: boolean } = {},
  ): Promise<{ value: unknown; bytes: number } | undefined> {
    if (!Number.isInteger(chunks) || chunks < 0) throw new ValidationError("chunks must be a non-negative integer");
    if (chunks === 0) return undefined;
    const first = location.chunkKey(0);
    const last = location.chunkKey(chunks - 1);
    const rows: Row[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "PK = :pk AND SK BETWEEN :first AND :last",
          ExpressionAttributeValues: { ":pk": first.PK, ":first": first.SK, ":last": last.SK },
          ConsistentRead: options.consistent ?? false,
          ExclusiveStartKey: startKey,
        }),
      );
      rows.push(...((page.Items ?? []) as Row[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    if (rows.length === 0) return undefined;
    const token = rows[0]?.token;
    const complete =
      rows.length === chunks &&
      rows.every((row, index) => row.n === index && row.total === chunks && row.token === token);
    if (!complete) {
      throw new NotFoundError(
        `Stored ${location.entity} at ${first.PK} ${location.prefix} is not a ${chunks}-chunk blob`,
        {
          expectedChunks: chunks,
          storedChunks: rows[0]?.total,
          found: rows.length,
        },
      );
    }
    const compressed = Buffer.concat(rows.map((row) => row.data as Uint8Array));
    try {
      const json = (await gunzipAsync(compressed)).toString("utf8");
      return { value: JSON.parse(json), bytes: Buffer.byteLength(json, "utf8") };
    } catch (error) {
      throw new NotFoundError(`Stored ${location.entity} at ${first.PK} ${location.prefix} is unreadable`, {
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /**
   * Reads the bytes of the last complete write under `location`'s prefix without knowing its chunk count (the chunks
   * say it), with the attributes of its first chunk (the `extra` of the write). undefined when there is none;
   * NotFoundError when the chunks do not form one complete write (torn, or being overwritten).
   */
  async readBytes(location: BlobLocation): Promise<{ bytes: Buffer; attributes: Row } | undefined> {
    const pk = location.chunkKey(0).PK;
    const rows: Row[] = [];
    for await (const row of queryPrefix(this.doc, this.tableName, { pk, prefix: location.prefix })) rows.push(row);
    const first = rows.find((row) => row.n === 0);
    if (!first) {
      if (rows.length === 0) return undefined;
      throw new NotFoundError(`Stored ${location.entity} at ${pk} ${location.prefix} has no first chunk`);
    }
    const chunks = rows.filter((row) => row.token === first.token).sort((a, b) => Number(a.n) - Number(b.n));
    const total = Number(first.total);
    if (chunks.length !== total || !chunks.every((row, index) => row.n === index && row.total === total)) {
      throw new NotFoundError(`Stored ${location.entity} at ${pk} ${location.prefix} is not a complete blob`, {
        expectedChunks: total,
        found: chunks.length,
      });
    }
    try {
      const bytes = await gunzipAsync(Buffer.concat(chunks.map((row) => row.data as Uint8Array)));
      const { data: _data, ...attributes } = first;
      return { bytes, attributes };
    } catch (error) {
      throw new NotFoundError(`Stored ${location.entity} at ${pk} ${location.prefix} is unreadable`, {
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Deletes chunks 0..chunks-1 (a versioned blob: nothing else can live under its prefix). */
  async delete(location: BlobLocation, chunks: number): Promise<void> {
    const requests: WriteRequest[] = [];
    for (let n = 0; n < chunks; n++) requests.push({ DeleteRequest: { Key: { ...location.chunkKey(n) } } });
    await batchWriteAll(this.doc, this.tableName, requests, this.retry);
  }

  /** Deletes every chunk under the prefix, including leftovers of an earlier, longer write. */
  async deleteAll(location: BlobLocation): Promise<void> {
    const requests: WriteRequest[] = [];
    const query = { pk: location.chunkKey(0).PK, prefix: location.prefix, projection: "PK, SK" };
    for await (const row of queryPrefix(this.doc, this.tableName, query)) {
      requests.push({ DeleteRequest: { Key: { PK: row.PK, SK: row.SK } } });
    }
    await batchWriteAll(this.doc, this.tableName, requests, this.retry);
  }
}
