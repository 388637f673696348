/**
 * What every query route reads first: the connection (a revoked one's data is not served), the partition (its
 * committed version, sync type and freshness) and the source (lookup fields, fuzzy flag, TTL). The three GetItems of a
 * one-type read go out together, so a warm lookup costs one round trip to DynamoDB.
 */
import type { Clock } from "../../domain/clock.js";
import type { Partition } from "../../domain/entities.js";
import { NotFoundError } from "../../domain/errors.js";
import { DEFAULT_CONNECTION_ID, type PartitionRef } from "../../domain/ids.js";
import type { Source } from "../../domain/source-config.js";
import type { IndexSettings, LookupIndexCache } from "../../lookup/cache.js";
import { indexSettingsOf } from "../../lookup/snapshot.js";
import type { Repositories } from "../../storage/ports.js";

/** The dependencies of the query services; integration tests pass dynalite-backed repositories. */
export interface QueryDeps {
  repos: Pick<Repositories, "sources" | "connections" | "partitions" | "items" | "objects"> &
    Partial<Pick<Repositories, "indexSnapshots">>;
  clock: Clock;
  /** Default: the process-wide cache of shared/lookup/cache.ts. */
  cache?: LookupIndexCache;
}

/** DESIGN.md: `defaultTtlSeconds` defaults to a day. */
const DEFAULT_TTL_SECONDS = 86_400;

/** Throws NOT_FOUND when the connection was revoked: its cached data is no longer served. */
function assertServed(connection: { status: string } | undefined, integrationId: string, connectionId: string): void {
  if (connection?.status === "revoked") {
    throw new NotFoundError(`Connection '${connectionId}' of integration '${integrationId}' is revoked`, {
      integrationId,
      connectionId,
    });
  }
}

/**
 * Whether a partition's data is served: not once its source was deleted (paused `source_deleted`); the data waits for
 * the purge, as a revoked connection's does.
 */
function isServed(partition: Pick<Partition, "status" | "pauseReason">): boolean {
  return !(partition.status === "paused" && partition.pauseReason === "source_deleted");
}

/** Throws NOT_FOUND, as for a missing partition, when the partition's source was deleted. */
function assertPartitionServed(partition: Partition): void {
  if (isServed(partition)) return;
  throw new NotFoundError(
    `No reference data '${partition.dataType}' for integration '${partition.integrationId}': its source was deleted`,
    { integrationId: partition.integrationId, dataType: partition.dataType, connectionId: partition.connectionId },
  );
}

/**
 * The partitions a read spans: those of `filter.connectionId` (NOT_FOUND when it is revoked), or with no connection
 * named, those of every served connection of the integration (DESIGN.md: reads without a connection), optionally of
 * one data type. Partitions of a deleted source are never served.
 */
export async function servedPartitions(
  repos: QueryDeps["repos"],
  tenantId: string,
  integrationId: string,
  filter: { connectionId?: string | undefined; dataType?: string | undefined },
): Promise<Partition[]> {
  const byType: { dataType?: string } = filter.dataType ? { dataType: filter.dataType } : {};
  if (filter.connectionId !== undefined) {
    const connectionId = filter.connectionId;
    const [partitions, connection] = await Promise.all([
      repos.partitions.listByIntegration(tenantId, integrationId, { ...byType, connectionId }),
      repos.connections.get(tenantId, integrationId, connectionId),
    ]);
    assertServed(connection, integrationId, connectionId);
    return partitions.filter(isServed);
  }
  const [partitions, connections] = await Promise.all([
    repos.partitions.listByIntegration(tenantId, integrationId, byType),
    repos.connections.list(tenantId, integrationId),
  ]);
  const revoked = new Set(connections.filter((c) => c.status === "revoked").map((c) => c.connectionId));
  return partitions.filter((p) => !revoked.has(p.connectionId) && isServed(p));
}

/** The served partitions of a read and the integration's sources; INTEGRATION_NOT_FOUND when it has neither. */
export async function readScope(
  repos: QueryDeps["repos"],
  tenantId: string,
  integrationId: string,
  filter: { connectionId?: string | undefined; dataType?: string | undefined },
): Promise<{ partitions: Partition[]; sources: Source[] }> {
  const [partitions, sources] = await Promise.all([
    servedPartitions(repos, tenantId, integrationId, filter),
    repos.sources.list(tenantId, integrationId),
  ]);
  if (partitions.length === 0 && sources.length === 0) {
    throw new NotFoundError(
      `Integration '${integrationId}' has no reference data sources`,
      { integrationId },
      "INTEGRATION_NOT_FOUND",
    );
  }
  return { partitions, sources };
}

/**
 * The connection lookup and context read: the one named, else the integration's primary connection (recorded by
 * discovery), else `default`.
 */
export async function readConnectionOf(
  repos: QueryDeps["repos"],
  tenantId: string,
  integrationId: string,
  requested: string | undefined,
): Promise<string> {
  if (requested !== undefined) return requested;
  const connections = await repos.connections.list(tenantId, integrationId);
  const primary = connections.find((c) => c.isPrimary === true && c.status !== "revoked");
  return primary?.connectionId ?? DEFAULT_CONNECTION_ID;
}

/** The partition of `ref` and its source, read together; NOT_FOUND when revoked or when the partition does not exist. */
export async function readPartition(
  repos: QueryDeps["repos"],
  ref: PartitionRef,
): Promise<{ partition: Partition; source: Source | undefined }> {
  const [partition, connection, source] = await Promise.all([
    repos.partitions.get(ref),
    repos.connections.get(ref.tenantId, ref.integrationId, ref.connectionId),
    repos.sources.get(ref.tenantId, ref.integrationId, ref.dataType),
  ]);
  assertServed(connection, ref.integrationId, ref.connectionId);
  if (!partition) {
    throw new NotFoundError(
      `No reference data '${ref.dataType}' for integration '${ref.integrationId}' (connection '${ref.connectionId}')`,
      { integrationId: ref.integrationId, dataType: ref.dataType, connectionId: ref.connectionId },
    );
  }
  assertPartitionServed(partition);
  return { partition, source };
}

/** Freshness: never synced; stale when past its TTL, or failed or paused; else fresh. */
export function freshness(partition: Partition, source: Source | undefined, now: number): "fresh" | "stale" | "never" {
  if (!partition.lastSyncedAt) return "never";
  if (partition.status === "failed" || partition.status === "paused") return "stale";
  const ttlSeconds = source?.referenceData.defaultTtlSeconds ?? DEFAULT_TTL_SECONDS;
  return now > Date.parse(partition.lastSyncedAt) + ttlSeconds * 1000 ? "stale" : "fresh";
}

/** How the partition's lookup index is built: the source's lookup fields and fuzzy flag, when it still has a source. */
export function indexSettings(source: Source | undefined): IndexSettings {
  if (!source) return {};
  return indexSettingsOf(source.referenceData);
}

/** The reference of one partition. */
export function partitionRef(
  tenantId: string,
  integrationId: string,
  connectionId: string,
  dataType: string,
): PartitionRef {
  return { tenantId, integrationId, connectionId, dataType };
}
