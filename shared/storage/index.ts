/** The storage layer: DynamoDB repositories behind the ports, the key builder, the table definition and the client. */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoApiKeyRepository } from "./api-key-repository.js";
import type { RetryOptions } from "./batch-write.js";
import { BlobStore } from "./blob-store.js";
import { DynamoChangeRepository } from "./change-repository.js";
import { DynamoConnectionRepository } from "./connection-repository.js";
import { DynamoDiscoveryRepository } from "./discovery-repository.js";
import { DynamoIndexSnapshotRepository } from "./index-snapshot-repository.js";
import { DynamoItemRepository } from "./item-repository.js";
import { DynamoJobRepository } from "./job-repository.js";
import { DynamoManifestRepository } from "./manifest-repository.js";
import { DynamoObjectRepository } from "./object-repository.js";
import { DynamoPartitionRepository } from "./partition-repository.js";
import type { Repositories } from "./ports.js";
import { DynamoSourceRepository } from "./source-repository.js";
import { DynamoTenantRepository } from "./tenant-repository.js";
import { DynamoUsageRepository } from "./usage-repository.js";

export { API_KEY_PATTERN, DynamoApiKeyRepository } from "./api-key-repository.js";
export type { RetryOptions, WriteRequest } from "./batch-write.js";
export { BATCH_WRITE_LIMIT, BatchWriteIncompleteError, batchWriteAll } from "./batch-write.js";
export type { BlobLocation, BlobWriteResult } from "./blob-store.js";
export { BLOB_CHUNK_BYTES, BlobStore } from "./blob-store.js";
export * from "./change-repository.js";
export * from "./client.js";
export { DynamoConnectionRepository } from "./connection-repository.js";
export * from "./ddb.js";
export { DynamoDiscoveryRepository } from "./discovery-repository.js";
export { DynamoIndexSnapshotRepository } from "./index-snapshot-repository.js";
export { DynamoItemRepository, MAX_ITEM_BYTES } from "./item-repository.js";
export { DynamoJobRepository } from "./job-repository.js";
export * from "./keys.js";
export { DynamoManifestRepository, decodeManifest, encodeManifest } from "./manifest-repository.js";
export { DynamoObjectRepository } from "./object-repository.js";
export { DynamoPartitionRepository, RESUMABLE_BY_ENSURE } from "./partition-repository.js";
export * from "./ports.js";
export { DynamoSourceRepository } from "./source-repository.js";
export * from "./table.js";
export { DynamoTenantRepository } from "./tenant-repository.js";

export interface RepositoryOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Retry of unprocessed batch writes; tests and benchmarks inject `sleep`. */
  retry?: RetryOptions;
}

/** Every repository over one DocumentClient and table; build once per Lambda container, at module scope. */
export function createRepositories(options: RepositoryOptions): Repositories {
  const { doc, tableName, retry = {} } = options;
  const blobs = new BlobStore(doc, tableName, retry);
  return {
    sources: new DynamoSourceRepository(doc, tableName),
    connections: new DynamoConnectionRepository(doc, tableName),
    partitions: new DynamoPartitionRepository(doc, tableName),
    items: new DynamoItemRepository(doc, tableName, retry),
    manifests: new DynamoManifestRepository(blobs),
    indexSnapshots: new DynamoIndexSnapshotRepository(doc, tableName, blobs, retry),
    objects: new DynamoObjectRepository(blobs),
    jobs: new DynamoJobRepository(doc, tableName, blobs),
    apiKeys: new DynamoApiKeyRepository(doc, tableName, retry.sleep),
    usage: new DynamoUsageRepository(doc, tableName),
    changes: new DynamoChangeRepository(doc, tableName, retry),
    tenants: new DynamoTenantRepository(doc, tableName),
    discovery: new DynamoDiscoveryRepository(doc, tableName),
  };
}
