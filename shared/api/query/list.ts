/**
 * GET .../reference-data (list, or per-type counts with summary=true) and GET .../reference-data/{dataType} (one
 * type's items, or its object). Items are listed in stored order (by external ID), one data type after another (by
 * name), paged with a signed cursor bound to the tenant and the filters. Without `search` a page is read from
 * DynamoDB; with it, from the partition's cached lookup index (every word must start a word of the item), so a
 * search is one pass over memory rather than a filtered scan of the table.
 */
import { z } from "zod";
import type { Item, ItemStatus, Partition } from "../../domain/entities.js";
import { NotFoundError, ValidationError } from "../../domain/errors.js";
import type { Source } from "../../domain/source-config.js";
import { decodeCursor, encodeCursor, queryFingerprint } from "../../http/cursor.js";
import type { PaginationMeta } from "../../http/envelope.js";
import { partitionIndex } from "../../lookup/cache.js";
import { type LookupIndex, searchItems } from "../../lookup/index.js";
import type { PageKey } from "../../storage/ports.js";
import { type ObjectCache, readObject } from "./objects.js";
import { assertServed, freshness, indexSettings, partitionRef, type QueryDeps, readPartition } from "./read.js";
import type { ByTypeQuery, ListQuery, ObjectWire, ReferenceItemWire, SummaryWire } from "./schemas.js";

export interface ListDeps extends QueryDeps {
  /** HMAC key of pagination cursors. */
  cursorSecret: string;
  objectCache?: ObjectCache;
}

/** Where the next page starts: a data type, and in it a DynamoDB key (plain listing) or an offset (search). */
const positionSchema = z
  .object({
    d: z.string().min(1),
    k: z.record(z.string(), z.unknown()).optional(),
    o: z.number().int().min(0).optional(),
  })
  .strict();
type Position = z.infer<typeof positionSchema>;

type Filters = Pick<ByTypeQuery, "connectionId" | "status" | "limit" | "cursor"> & { search: string | undefined };

/**
 * Lists cached items of an integration's connection (all list types, or `dataType`), or with `summary` the per-type
 * counts. INTEGRATION_NOT_FOUND when the tenant has neither partitions nor sources for the integration; NOT_FOUND
 * when the connection is revoked.
 */
export async function listReferenceData(
  deps: ListDeps,
  input: { tenantId: string; integrationId: string; query: ListQuery },
): Promise<{ data: ReferenceItemWire[] | SummaryWire[]; pagination?: PaginationMeta }> {
  const { tenantId, integrationId, query } = input;
  const { repos } = deps;
  const filter: { connectionId: string; dataType?: string } = { connectionId: query.connectionId };
  if (query.dataType) filter.dataType = query.dataType;
  const [partitions, connection, sources] = await Promise.all([
    repos.partitions.listByIntegration(tenantId, integrationId, filter),
    repos.connections.get(tenantId, integrationId, query.connectionId),
    repos.sources.list(tenantId, integrationId),
  ]);
  assertServed(connection, integrationId, query.connectionId);
  if (partitions.length === 0 && sources.length === 0) {
    throw new NotFoundError(
      `Integration '${integrationId}' has no reference data sources`,
      { integrationId },
      "INTEGRATION_NOT_FOUND",
    );
  }
  const sourceOf = new Map(sources.map((s) => [s.dataType, s]));
  const sorted = [...partitions].sort((a, b) => compare(a.dataType, b.dataType));
  if (query.summary) {
    const now = deps.clock.now();
    return {
      data: sorted.map((p) => ({
        dataType: p.dataType,
        connectionId: p.connectionId,
        syncType: p.syncType,
        count: p.itemCount,
        lastSyncedAt: p.lastSyncedAt ?? null,
        freshness: freshness(p, sourceOf.get(p.dataType), now),
      })),
    };
  }
  const lists = sorted.filter((p) => p.syncType === "list");
  return pageItems(deps, {
    tenantId,
    integrationId,
    op: "listReferenceData",
    dataType: query.dataType,
    partitions: lists,
    sourceOf,
    filters: { ...query, search: query.search ?? query.q },
  });
}

/**
 * One data type: a page of its items (list) or `{ dataType, object, syncedAt }` (object; `null`s before its first
 * sync). NOT_FOUND when the partition does not exist or the connection is revoked.
 */
export async function getReferenceDataByType(
  deps: ListDeps,
  input: { tenantId: string; integrationId: string; dataType: string; query: ByTypeQuery },
): Promise<{ data: ReferenceItemWire[] | ObjectWire; pagination?: PaginationMeta }> {
  const { tenantId, integrationId, dataType, query } = input;
  const ref = partitionRef(tenantId, integrationId, query.connectionId, dataType);
  const { partition, source } = await readPartition(deps.repos, ref);
  if (partition.syncType === "object") {
    const { object, syncedAt } = await readObject(deps.repos.objects, ref, partition, deps.objectCache);
    return { data: { dataType, object, syncedAt } };
  }
  const sourceOf = new Map<string, Source>(source ? [[dataType, source]] : []);
  return pageItems(deps, {
    tenantId,
    integrationId,
    op: "getReferenceDataByType",
    dataType,
    partitions: [partition],
    sourceOf,
    filters: { ...query, search: query.search ?? query.q },
  });
}

async function pageItems(
  deps: ListDeps,
  args: {
    tenantId: string;
    integrationId: string;
    op: string;
    dataType: string | undefined;
    partitions: Partition[];
    sourceOf: Map<string, Source>;
    filters: Filters;
  },
): Promise<{ data: ReferenceItemWire[]; pagination: PaginationMeta }> {
  const { tenantId, integrationId, partitions, filters } = args;
  const search = filters.search?.trim() || undefined;
  const status = filters.status === "all" ? undefined : filters.status;
  const binding = {
    tenantId,
    fingerprint: queryFingerprint({
      op: args.op,
      integrationId,
      connectionId: filters.connectionId,
      dataType: args.dataType,
      status: filters.status,
      search,
    }),
  };
  const position = filters.cursor ? decodePosition(filters.cursor, binding, deps.cursorSecret) : undefined;
  // A data type removed between two pages is skipped: continue with the next one in name order.
  let first = position ? partitions.findIndex((p) => p.dataType >= position.d) : 0;
  if (first < 0) first = partitions.length;

  const data: ReferenceItemWire[] = [];
  let next: Position | undefined;
  let totalCount: number | undefined;
  for (let i = first; i < partitions.length; i++) {
    const partition = partitions[i]!;
    const remaining = filters.limit - data.length;
    if (remaining === 0) {
      next = { d: partition.dataType };
      break;
    }
    const resume = position && position.d === partition.dataType ? position : undefined;
    const ref = partitionRef(tenantId, integrationId, filters.connectionId, partition.dataType);
    if (search !== undefined) {
      const index = await partitionIndex(
        deps.cache ? { items: deps.repos.items, cache: deps.cache } : { items: deps.repos.items },
        ref,
        partition.version,
        indexSettings(args.sourceOf.get(partition.dataType)),
      );
      const matched = searchItems(index, search).filter(
        (item) => status === undefined || index.statusOf(item) === status,
      );
      if (partitions.length === 1) totalCount = matched.length;
      const from = resume?.o ?? 0;
      for (const item of matched.slice(from, from + remaining)) data.push(indexWire(index, item, partition));
      if (from + remaining < matched.length) {
        next = { d: partition.dataType, o: from + remaining };
        break;
      }
    } else {
      const listFilter: { status?: ItemStatus; limit: number; startKey?: PageKey } = { limit: remaining };
      if (status) listFilter.status = status;
      if (resume?.k) listFilter.startKey = resume.k;
      const page = await deps.repos.items.list(ref, listFilter);
      for (const item of page.items) data.push(itemWire(item, partition));
      if (page.nextKey) {
        next = { d: partition.dataType, k: page.nextKey };
        break;
      }
    }
  }
  const cursor = next ? encodeCursor(next, binding, deps.cursorSecret) : null;
  const pagination: PaginationMeta = { cursor, hasMore: cursor !== null };
  if (totalCount !== undefined) pagination.totalCount = totalCount;
  return { data, pagination };
}

function decodePosition(cursor: string, binding: { tenantId: string; fingerprint: string }, secret: string): Position {
  const parsed = positionSchema.safeParse(decodeCursor(cursor, binding, secret));
  if (!parsed.success) {
    throw new ValidationError(
      "Invalid cursor: malformed. Repeat the query without a cursor to start over.",
      { field: "cursor" },
      "INVALID_REQUEST",
    );
  }
  return parsed.data;
}

function itemWire(item: Item, partition: Partition): ReferenceItemWire {
  return {
    externalId: item.externalId,
    name: item.name,
    dataType: partition.dataType,
    connectionId: partition.connectionId,
    status: item.status,
    metadata: item.metadata,
    lastSyncedAt: partition.lastSyncedAt ?? null,
    updatedAt: item.updatedAt,
  };
}

function indexWire(index: LookupIndex, i: number, partition: Partition): ReferenceItemWire {
  return {
    externalId: index.ids[i]!,
    name: index.names[i]!,
    dataType: partition.dataType,
    connectionId: partition.connectionId,
    status: index.statusOf(i),
    metadata: index.metadata[i] as Record<string, unknown>,
    lastSyncedAt: partition.lastSyncedAt ?? null,
    updatedAt: index.updatedAt[i] ?? null,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
