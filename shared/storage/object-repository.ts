/** Object partitions: the whole cached response, gzipped and chunked under its version. */
import type { PartitionRef, StoredObject } from "../domain/index.js";
import type { BlobLocation, BlobStore } from "./blob-store.js";
import { keys } from "./keys.js";
import type { ObjectRepository } from "./ports.js";

export class DynamoObjectRepository implements ObjectRepository {
  constructor(private readonly blobs: BlobStore) {}

  private location(ref: PartitionRef, version: number): BlobLocation {
    return { chunkKey: (n) => keys.objectChunk(ref, version, n), prefix: keys.objectPrefix(version), entity: "object" };
  }

  async write(ref: PartitionRef, version: number, object: unknown): Promise<{ chunks: number; bytes: number }> {
    const { chunks, bytes } = await this.blobs.write(this.location(ref, version), object);
    return { chunks, bytes };
  }

  /** undefined when the version has no chunks; NotFoundError when they do not match `chunks`. */
  async read(ref: PartitionRef, version: number, chunks: number, syncedAt: string): Promise<StoredObject | undefined> {
    const blob = await this.blobs.read(this.location(ref, version), chunks);
    if (blob === undefined) return undefined;
    return { dataType: ref.dataType, version, object: blob.value, syncedAt, bytes: blob.bytes };
  }

  async delete(ref: PartitionRef, version: number, chunks: number): Promise<void> {
    await this.blobs.delete(this.location(ref, version), chunks);
  }
}
