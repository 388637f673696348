/**
 * Lookup index snapshots: the bytes of a partition's lookup index at a committed version (shared/lookup/snapshot.ts
 * encodes them), gzipped and chunked by the BlobStore under the partition's data key, so a cold query container reads
 * a few chunks instead of every item. Each chunk carries the key of the index settings the snapshot was built with,
 * and so does a small settings row written after the chunks, so the next sync can check it for the price of a tiny
 * GetItem (reading a chunk, even projected, costs its whole 350 KB in read units). A snapshot's id is its BlobStore
 * write token (on every chunk, and copied to the settings row): every write has its own, so a commit can record which
 * write its version is served from (Partition.snapshotId).
 */

import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { PartitionRef } from "../domain/index.js";
import { batchWriteAll, type RetryOptions, type WriteRequest } from "./batch-write.js";
import type { BlobLocation, BlobStore } from "./blob-store.js";
import { dataPk, keys } from "./keys.js";
import type { IndexSnapshot, IndexSnapshotRepository, IndexSnapshotStamp } from "./ports.js";
import { queryPrefix } from "./rows.js";

export class DynamoIndexSnapshotRepository implements IndexSnapshotRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly blobs: BlobStore,
    private readonly retry: RetryOptions = {},
  ) {}

  private location(ref: PartitionRef, version: number): BlobLocation {
    return {
      chunkKey: (n) => keys.indexSnapshotChunk(ref, version, n),
      prefix: keys.indexSnapshotPrefix(version),
      entity: "indexSnapshot",
    };
  }

  async write(
    ref: PartitionRef,
    version: number,
    bytes: Uint8Array,
    settingsKey: string,
  ): Promise<{ chunks: number; storedBytes: number; snapshotId: string }> {
    // An overwrite (same version, other settings) must not leave chunks of the longer earlier write behind.
    await this.blobs.deleteAll(this.location(ref, version));
    const written = await this.blobs.writeBytes(this.location(ref, version), bytes, { settingsKey });
    const { chunks, storedBytes, token: snapshotId } = written;
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.indexSnapshotSettings(ref, version), entity: "indexSnapshot", settingsKey, snapshotId, chunks },
      }),
    );
    return { chunks, storedBytes, snapshotId };
  }

  async read(ref: PartitionRef, version: number): Promise<IndexSnapshot | undefined> {
    const blob = await this.blobs.readBytes(this.location(ref, version));
    if (!blob) return undefined;
    const { settingsKey, token } = blob.attributes;
    return {
      bytes: blob.bytes,
      settingsKey: typeof settingsKey === "string" ? settingsKey : "",
      snapshotId: typeof token === "string" ? token : "",
    };
  }

  async stampOf(ref: PartitionRef, version: number): Promise<IndexSnapshotStamp | undefined> {
    const result = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.indexSnapshotSettings(ref, version),
        ProjectionExpression: "settingsKey, snapshotId",
      }),
    );
    const { settingsKey, snapshotId } = result.Item ?? {};
    return typeof settingsKey === "string" && typeof snapshotId === "string" ? { settingsKey, snapshotId } : undefined;
  }

  async deleteOlderThan(ref: PartitionRef, version: number): Promise<void> {
    // Only the keys below the kept version's prefix (version prefixes are zero-padded, so older ones sort below):
    // a Query pays for whole rows, projected or not, and the kept versions' chunks are hundreds of KB.
    const query = {
      pk: dataPk(ref),
      prefix: keys.indexSnapshotPrefix(),
      until: keys.indexSnapshotPrefix(version),
      projection: "PK, SK",
    };
    const requests: WriteRequest[] = [];
    for await (const row of queryPrefix(this.doc, this.tableName, query)) {
      requests.push({ DeleteRequest: { Key: { PK: row.PK, SK: row.SK } } });
    }
    await batchWriteAll(this.doc, this.tableName, requests, this.retry);
  }

  /** The settings row shares the version's prefix, so it goes with the chunks. */
  async delete(ref: PartitionRef, version: number): Promise<void> {
    await this.blobs.deleteAll(this.location(ref, version));
  }
}
