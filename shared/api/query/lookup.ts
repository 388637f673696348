/** GET .../reference-data/{dataType}/lookup: resolve a name to IDs from the partition's cached index. */
import { ValidationError } from "../../domain/errors.js";
import { partitionIndex } from "../../lookup/cache.js";
import { normalize } from "../../lookup/normalize.js";
import { lookup } from "../../lookup/ranking.js";
import { freshness, indexSettings, partitionRef, type QueryDeps, readConnectionOf, readPartition } from "./read.js";
import type { LookupQuery, LookupResultWire } from "./schemas.js";

/**
 * Resolves `query.query` among the items of one list partition (of the named connection, else the integration's
 * primary connection, else `default`): exact, then prefix, then typo-tolerant matches
 * (the last two when the source has `fuzzyMatch`), with `ambiguous` when another item matches about as well as the best, and the partition's
 * `lastSyncedAt` and `stale`. One round trip when the index is cached for the partition's current version.
 */
export async function lookupReferenceData(
  deps: QueryDeps,
  input: { tenantId: string; integrationId: string; dataType: string; query: LookupQuery },
): Promise<LookupResultWire> {
  const { tenantId, integrationId, dataType, query } = input;
  if (normalize(query.query) === "") {
    throw new ValidationError("Invalid query parameters: query: must contain a letter or digit", {
      issues: [{ field: "query", message: "must contain a letter or digit" }],
    });
  }
  const connectionId = await readConnectionOf(deps.repos, tenantId, integrationId, query.connectionId);
  const ref = partitionRef(tenantId, integrationId, connectionId, dataType);
  const { partition, source } = await readPartition(deps.repos, ref);
  if (partition.syncType === "object") {
    throw new ValidationError(
      `'${dataType}' is an object type: fetch it whole with GET .../reference-data/${dataType}; lookup works on list types`,
      { field: "dataType", dataType },
      "INVALID_REQUEST",
    );
  }
  const settings = indexSettings(source);
  const cacheDeps = {
    items: deps.repos.items,
    indexSnapshots: deps.repos.indexSnapshots,
    ...(deps.cache ? { cache: deps.cache } : {}),
  };
  const index = await partitionIndex(cacheDeps, ref, partition, settings);
  const options: Parameters<typeof lookup>[2] = { limit: query.limit, includeInactive: query.includeInactive };
  // The source's current flag wins over the one the cached index was built with: toggling it needs no resync.
  if (settings.fuzzy !== undefined) options.fuzzy = settings.fuzzy;
  const result = lookup(index, query.query, options);
  return {
    matches: result.matches,
    ambiguous: result.ambiguous,
    lastSyncedAt: partition.lastSyncedAt ?? null,
    stale: freshness(partition, source, deps.clock.now()) !== "fresh",
  };
}
