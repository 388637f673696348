/**
 * GET …/reference-data/sync/status: partition states (with freshness) and the job history. Wire format: DESIGN.md
 * "REST API".
 */
import type { Clock } from "../../domain/clock.js";
import type { Job, Partition } from "../../domain/entities.js";
import { NotFoundError } from "../../domain/errors.js";
import { type CursorKeys, decodeCursor, encodeCursor, queryFingerprint } from "../../http/cursor.js";
import type { PaginationMeta } from "../../http/envelope.js";
import type { Repositories } from "../../storage/ports.js";
import type { JobWire, PartitionStatusWire, StatusQuery, StatusResult } from "./schemas.js";

const DEFAULT_TTL_SECONDS = 86_400;

export interface StatusDeps {
  repos: Pick<Repositories, "sources" | "partitions" | "jobs">;
  clock: Clock;
  cursorKeys: CursorKeys;
}

/**
 * Partition states (with freshness) and the job history newest first, filtered by connection, data type and job
 * status, paged with a signed cursor bound to the tenant and the filters. NotFoundError (INTEGRATION_NOT_FOUND) when
 * the integration has no source, partition or job for this tenant.
 */
export async function getSyncStatus(
  deps: StatusDeps,
  input: { tenantId: string; integrationId: string; query: StatusQuery },
): Promise<{ data: StatusResult; pagination: PaginationMeta }> {
  const { repos, clock } = deps;
  const { tenantId, integrationId, query } = input;
  const binding = {
    tenantId,
    fingerprint: queryFingerprint({
      op: "getSyncStatus",
      integrationId,
      connectionId: query.connectionId,
      dataType: query.dataType,
      status: query.status,
    }),
  };
  const startKey = query.cursor
    ? decodeCursor(query.cursor, binding, deps.cursorKeys, { now: deps.clock.now() })
    : undefined;
  const filter: { connectionId?: string; dataType?: string } = {};
  if (query.connectionId) filter.connectionId = query.connectionId;
  if (query.dataType) filter.dataType = query.dataType;

  const jobFilter: Parameters<Repositories["jobs"]["list"]>[2] = { ...filter, limit: query.limit };
  if (query.status) jobFilter.status = query.status;
  if (startKey) jobFilter.startKey = startKey;
  const [sources, partitions, page] = await Promise.all([
    repos.sources.list(tenantId, integrationId),
    repos.partitions.listByIntegration(tenantId, integrationId, filter),
    repos.jobs.list(tenantId, integrationId, jobFilter),
  ]);
  if (sources.length === 0 && partitions.length === 0 && page.items.length === 0 && !startKey) {
    throw new NotFoundError(
      `Integration '${integrationId}' has no sources, partitions or jobs`,
      { integrationId },
      "INTEGRATION_NOT_FOUND",
    );
  }
  const ttlOf = new Map(sources.map((s) => [s.dataType, s.referenceData.defaultTtlSeconds]));
  const now = clock.now();
  const dataTypes = partitions
    .map((p) => partitionWire(p, ttlOf.get(p.dataType) ?? DEFAULT_TTL_SECONDS, now))
    .sort((a, b) => a.dataType.localeCompare(b.dataType) || a.connectionId.localeCompare(b.connectionId));
  const cursor = page.nextKey ? encodeCursor(page.nextKey, binding, deps.cursorKeys, { now: deps.clock.now() }) : null;
  return {
    data: { dataTypes, recentJobs: page.items.map(jobWire) },
    pagination: { cursor, hasMore: cursor !== null },
  };
}

/** Freshness of a partition: never synced, or within its TTL and not failing/paused. */
export function freshnessOf(partition: Partition, ttlSeconds: number, now: number): "fresh" | "stale" | "never" {
  if (!partition.lastSyncedAt) return "never";
  if (partition.status === "failed" || partition.status === "paused") return "stale";
  return now > Date.parse(partition.lastSyncedAt) + ttlSeconds * 1000 ? "stale" : "fresh";
}

function partitionWire(p: Partition, ttlSeconds: number, now: number): PartitionStatusWire {
  const wire: PartitionStatusWire = {
    dataType: p.dataType,
    connectionId: p.connectionId,
    status: p.status,
    freshness: freshnessOf(p, ttlSeconds, now),
    itemCount: p.itemCount,
    lastSyncedAt: p.lastSyncedAt ?? null,
    nextSyncAt: p.status === "paused" ? null : p.nextSyncAt,
    lastJobStatus: p.lastJobStatus ?? null,
  };
  if (p.pauseReason) wire.pauseReason = p.pauseReason;
  if (p.lastError) wire.lastError = { code: p.lastError.code, message: p.lastError.message };
  return wire;
}

function jobWire(job: Job): JobWire {
  const wire: JobWire = {
    id: job.jobId,
    jobId: job.jobId,
    connectionId: job.connectionId,
    dataType: job.dataType,
    status: job.status,
    trigger: job.trigger,
    mode: job.mode,
    createdAt: job.createdAt,
    startedAt: job.startedAt ?? null,
    completedAt: job.completedAt ?? null,
    itemsFound: job.itemsFound,
    itemsCreated: job.itemsCreated,
    itemsUpdated: job.itemsUpdated,
    itemsDeleted: job.itemsDeleted,
    itemsFailed: job.itemsFailed,
  };
  if (job.error) wire.error = { code: job.error.code, message: job.error.message };
  if (job.warnings.length > 0) wire.warnings = job.warnings;
  return wire;
}
