/** GET .../reference-data/context: the AI preamble of a connection's reference data within a token budget. */
import { mapLimit } from "../../concurrency.js";
import { NotFoundError } from "../../domain/errors.js";
import { partitionIndex } from "../../lookup/cache.js";
import { type ContextResult, type ContextSection, renderContext } from "../../lookup/context.js";
import { type ObjectCache, readObject } from "./objects.js";
import { indexSettings, partitionRef, type QueryDeps, readConnectionOf, readScope } from "./read.js";
import type { ContextQuery } from "./schemas.js";

/** Partitions read at once: each is a cache hit, or a full read of its items on a cold start. */
const CONCURRENCY = 4;

/**
 * Renders the requested data types (all of the connection's when none are named) of one connection (the named one,
 * else the integration's primary connection, else `default`): list types from
 * their cached lookup indexes, object types whole when they fit. NOT_FOUND names any requested type the connection
 * does not have; INTEGRATION_NOT_FOUND when the tenant has no data at all for the integration.
 */
export async function getContext(
  deps: QueryDeps & { objectCache?: ObjectCache },
  input: { tenantId: string; integrationId: string; query: ContextQuery },
): Promise<ContextResult> {
  const { tenantId, integrationId, query } = input;
  const { repos } = deps;
  const connectionId = await readConnectionOf(repos, tenantId, integrationId, query.connectionId);
  const { partitions, sources } = await readScope(repos, tenantId, integrationId, { connectionId });
  const byType = new Map(partitions.map((p) => [p.dataType, p]));
  const wanted = query.dataTypes ?? [...byType.keys()].sort();
  const missing = wanted.filter((dataType) => !byType.has(dataType));
  if (missing.length > 0) {
    throw new NotFoundError(
      `No reference data ${missing.map((d) => `'${d}'`).join(", ")} for integration '${integrationId}' (connection '${connectionId}')`,
      { integrationId, connectionId, dataTypes: missing },
    );
  }
  const sourceOf = new Map(sources.map((s) => [s.dataType, s]));
  const sections = await mapLimit(wanted, CONCURRENCY, async (dataType): Promise<ContextSection> => {
    const partition = byType.get(dataType)!;
    const ref = partitionRef(tenantId, integrationId, connectionId, dataType);
    if (partition.syncType === "object") {
      const { object } = await readObject(repos.objects, ref, partition, deps.objectCache);
      return { dataType, syncType: "object", object: object ?? undefined };
    }
    const cacheDeps = {
      items: repos.items,
      indexSnapshots: repos.indexSnapshots,
      ...(deps.cache ? { cache: deps.cache } : {}),
    };
    const index = await partitionIndex(cacheDeps, ref, partition, indexSettings(sourceOf.get(dataType)));
    return { dataType, syncType: "list", index };
  });
  const options: Parameters<typeof renderContext>[1] = {
    maxTokens: query.maxTokens,
    integrationId,
    connectionId,
  };
  if (query.query) options.query = query.query;
  return renderContext(sections, options);
}
