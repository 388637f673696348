/**
 * GET .../reference-data (list, or per-type counts with summary=true) and GET .../reference-data/{dataType} (one
 * type's items, or its object). Items are listed in stored order (by external ID), one data type after another (by
 * name), paged with a signed cursor bound to the tenant and the filters. Without `search` a page is read from
 * DynamoDB; with it, matched in the partition's cached lookup index (every word must start a word of the item), so a
 * search is one pass over memory rather than a filtered scan of the table, and the page's items are then read by key.
 */
import { z } from "zod";
import { type Item, type Partition, servedItemContentOf } from "../../domain/entities.js";
import { NotFoundError, ValidationError } from "../../domain/errors.js";
import type { Source } from "../../domain/source-config.js";
import { type CursorKeys, decodeCursor, encodeCursor, queryFingerprint } from "../../http/cursor.js";
import type { PaginationMeta } from "../../http/envelope.js";
import { partitionIndex } from "../../lookup/cache.js";
import { searchItems } from "../../lookup/search.js";
import type { ItemListFilter } from "../../storage/ports.js";
import { ByteBudget, objectParts, RESPONSE_BUDGET_BYTES } from "./budget.js";
import { type ObjectCache, readObject } from "./objects.js";
import {
  freshness,
  indexSettings,
  partitionRef,
  type QueryDeps,
  readConnectionOf,
  readScope,
  servedPartitions,
} from "./read.js";
import type { ByTypeQuery, ListQuery, ObjectWire, ReferenceItemWire, SummaryWire } from "./schemas.js";

export interface ListDeps extends QueryDeps {
  /** The keys of pagination cursors (current, and previous during a rotation). */
  cursorKeys: CursorKeys;
  objectCache?: ObjectCache;
}

/**
 * Where the next page starts: a data type and connection, and in it a DynamoDB key (plain listing) or an offset
 * (search).
 */
const positionSchema = z
  .object({
    d: z.string().min(1),
    /** The connection of the data type (listings that span connections). */
    c: z.string().optional(),
    k: z.record(z.string(), z.unknown()).optional(),
    o: z.number().int().min(0).optional(),
  })
  .strict();
type Position = z.infer<typeof positionSchema>;

type Filters = Pick<ByTypeQuery, "connectionId" | "status" | "limit" | "cursor"> & { search: string | undefined };

/**
 * Lists cached items of an integration (all list types, or `dataType`) of one connection, or with no connection named
 * of every served connection; with `summary` the per-type counts summed over those connections.
 * INTEGRATION_NOT_FOUND when the tenant has neither partitions nor sources for the integration; NOT_FOUND when the
 * named connection is revoked.
 */
export async function listReferenceData(
  deps: ListDeps,
  input: { tenantId: string; integrationId: string; query: ListQuery },
): Promise<{ data: ReferenceItemWire[] | SummaryWire[]; pagination?: PaginationMeta }> {
  const { tenantId, integrationId, query } = input;
  const { repos } = deps;
  const { partitions, sources } = await readScope(repos, tenantId, integrationId, {
    connectionId: query.connectionId,
    dataType: query.dataType,
  });
  const sourceOf = new Map(sources.map((s) => [s.dataType, s]));
  const sorted = [...partitions].sort(byTypeThenConnection);
  if (query.summary) return { data: summarize(sorted, sourceOf, deps.clock.now()) };
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
 * One data type: a page of its items (list; every served connection's when none is named) or
 * `{ dataType, object, syncedAt }` (object; `null`s before its first sync; with no connection named, the primary's,
 * else `default`'s, else the only one's). NOT_FOUND when no partition of the type exists or the named connection is
 * revoked.
 */
export async function getReferenceDataByType(
  deps: ListDeps,
  input: { tenantId: string; integrationId: string; dataType: string; query: ByTypeQuery },
): Promise<{ data: ReferenceItemWire[] | ObjectWire; pagination?: PaginationMeta }> {
  const { tenantId, integrationId, dataType, query } = input;
  const { repos } = deps;
  const [partitions, source] = await Promise.all([
    servedPartitions(repos, tenantId, integrationId, { connectionId: query.connectionId, dataType }),
    repos.sources.get(tenantId, integrationId, dataType),
  ]);
  if (partitions.length === 0) {
    const connection = query.connectionId === undefined ? "" : ` (connection '${query.connectionId}')`;
    throw new NotFoundError(`No reference data '${dataType}' for integration '${integrationId}'${connection}`, {
      integrationId,
      dataType,
      ...(query.connectionId === undefined ? {} : { connectionId: query.connectionId }),
    });
  }
  if (partitions.some((p) => p.syncType === "object")) {
    const partition = await objectPartitionOf(deps, tenantId, integrationId, partitions);
    const ref = partitionRef(tenantId, integrationId, partition.connectionId, dataType);
    const { object, syncedAt } = await readObject(repos.objects, ref, partition, deps.objectCache);
    return { data: objectPart({ dataType, object, syncedAt }, query.part) };
  }
  const sourceOf = new Map<string, Source>(source ? [[dataType, source]] : []);
  return pageItems(deps, {
    tenantId,
    integrationId,
    op: "getReferenceDataByType",
    dataType,
    partitions: [...partitions].sort(byTypeThenConnection),
    sourceOf,
    filters: { ...query, search: query.search ?? query.q },
  });
}

/** An object is cached per connection: the one the request named, else the one lookup and context would read. */
async function objectPartitionOf(
  deps: ListDeps,
  tenantId: string,
  integrationId: string,
  partitions: Partition[],
): Promise<Partition> {
  if (partitions.length === 1) return partitions[0]!;
  const preferred = await readConnectionOf(deps.repos, tenantId, integrationId, undefined);
  const partition = partitions.find((p) => p.connectionId === preferred);
  if (partition) return partition;
  throw new ValidationError(
    `'${partitions[0]!.dataType}' is cached per connection (${partitions.map((p) => `'${p.connectionId}'`).join(", ")}): name one with connectionId`,
    { field: "connectionId" },
    "INVALID_REQUEST",
  );
}

/** Per data type, the counts of the partitions read, summed over their connections. */
function summarize(partitions: Partition[], sourceOf: Map<string, Source>, now: number): SummaryWire[] {
  const entries = new Map<string, SummaryWire>();
  for (const p of partitions) {
    const state = freshness(p, sourceOf.get(p.dataType), now);
    const entry = entries.get(p.dataType);
    if (!entry) {
      entries.set(p.dataType, {
        dataType: p.dataType,
        totalCount: p.totalCount ?? p.itemCount,
        activeCount: p.itemCount,
        lastSyncedAt: p.lastSyncedAt ?? null,
        syncType: p.syncType,
        connectionCount: 1,
        freshness: state,
      });
      continue;
    }
    entry.totalCount += p.totalCount ?? p.itemCount;
    entry.activeCount += p.itemCount;
    if (p.lastSyncedAt && (entry.lastSyncedAt === null || p.lastSyncedAt > entry.lastSyncedAt)) {
      entry.lastSyncedAt = p.lastSyncedAt;
    }
    entry.connectionCount += 1;
    if (entry.freshness !== state) entry.freshness = "stale";
  }
  return [...entries.values()];
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
  const position = filters.cursor
    ? decodePosition(filters.cursor, binding, deps.cursorKeys, deps.clock.now())
    : undefined;
  // A partition removed between two pages is skipped: continue with the next one in (type, connection) order.
  let first = position
    ? partitions.findIndex(
        (p) => byTypeThenConnection(p, { dataType: position.d, connectionId: position.c ?? "" }) >= 0,
      )
    : 0;
  if (first < 0) first = partitions.length;

  const data: ReferenceItemWire[] = [];
  const budget = new ByteBudget(RESPONSE_BUDGET_BYTES);
  let next: Position | undefined;
  let totalCount: number | undefined;
  for (let i = first; i < partitions.length; i++) {
    const partition = partitions[i]!;
    const remaining = filters.limit - data.length;
    const here = { d: partition.dataType, c: partition.connectionId };
    if (remaining === 0 || budget.spent()) {
      next = here;
      break;
    }
    const resume = position && position.d === here.d && (position.c ?? "") === here.c ? position : undefined;
    const ref = partitionRef(tenantId, integrationId, partition.connectionId, partition.dataType);
    if (search !== undefined) {
      const index = await partitionIndex(
        {
          items: deps.repos.items,
          indexSnapshots: deps.repos.indexSnapshots,
          ...(deps.cache ? { cache: deps.cache } : {}),
        },
        ref,
        partition,
        indexSettings(args.sourceOf.get(partition.dataType)),
      );
      const matched = searchItems(index, search).filter(
        (item) => status === undefined || index.statusOf(item) === status,
      );
      if (partitions.length === 1) totalCount = matched.length;
      const from = resume?.o ?? 0;
      // The index only matches; the page's items are read from storage, through the one wire mapper.
      const ids = matched.slice(from, from + remaining).map((item) => index.ids[item]!);
      const stored = new Map((await deps.repos.items.getMany(ref, ids)).map((item) => [item.externalId, item]));
      let taken = 0;
      for (const id of ids) {
        if (budget.spent()) break;
        taken++;
        // An item gone since the index was built (expired) is skipped, not fabricated.
        const item = stored.get(id);
        if (item) data.push(budget.add(itemWire(item, partition)));
      }
      if (from + taken < matched.length) {
        next = { ...here, o: from + taken };
        break;
      }
    } else {
      const listFilter: ItemListFilter = { limit: remaining, maxBytes: budget.left() };
      if (status) listFilter.status = status;
      if (resume?.k) listFilter.startKey = resume.k;
      const page = await deps.repos.items.list(ref, listFilter);
      for (const item of page.items) data.push(budget.add(itemWire(item, partition)));
      if (page.nextKey) {
        next = { ...here, k: page.nextKey };
        break;
      }
    }
  }
  const cursor = next ? encodeCursor(next, binding, deps.cursorKeys, { now: deps.clock.now() }) : null;
  const pagination: PaginationMeta = { cursor, hasMore: cursor !== null };
  if (totalCount !== undefined) pagination.totalCount = totalCount;
  return { data, pagination };
}

/** The object whole when it fits the response budget, else part `part` (default 0) of its `parts`. */
function objectPart(wire: ObjectWire, part: number | undefined): ObjectWire {
  const parts = objectParts(wire.object);
  if (parts.length === 1 && part === undefined) return wire;
  const index = part ?? 0;
  if (index >= parts.length) {
    throw new ValidationError(`Invalid query parameters: part: the object has ${parts.length} part(s), 0-based`, {
      issues: [{ field: "part", message: `must be below ${parts.length}` }],
    });
  }
  return { ...wire, object: parts[index], part: index, parts: parts.length };
}

function decodePosition(
  cursor: string,
  binding: { tenantId: string; fingerprint: string },
  keys: CursorKeys,
  now: number,
): Position {
  const parsed = positionSchema.safeParse(decodeCursor(cursor, binding, keys, { now }));
  if (!parsed.success) {
    throw new ValidationError(
      "Invalid cursor: malformed. Repeat the query without a cursor to start over.",
      { field: "cursor" },
      "INVALID_REQUEST",
    );
  }
  return parsed.data;
}

/** The one wire mapper of a stored item: its served content, where it lives, and when it was synced. */
export function itemWire(item: Item, partition: Partition): ReferenceItemWire {
  // In the wire schema's order: identity, place, the rest of the content.
  const { externalId, name, ...content } = servedItemContentOf(item);
  return {
    id: wireItemId(partition, externalId),
    externalId,
    name,
    dataType: partition.dataType,
    connectionId: partition.connectionId,
    status: item.status,
    ...content,
    lastSyncedAt: partition.lastSyncedAt ?? null,
    updatedAt: item.updatedAt,
  };
}

/** An item's `id` on the wire: stable and unique within the integration. */
function wireItemId(partition: Partition, externalId: string): string {
  return `${partition.connectionId}:${partition.dataType}:${externalId}`;
}

function byTypeThenConnection(
  a: Pick<Partition, "dataType" | "connectionId">,
  b: Pick<Partition, "dataType" | "connectionId">,
): number {
  return compare(a.dataType, b.dataType) || compare(a.connectionId, b.connectionId);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
