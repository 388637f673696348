/**
 * Partitions implied by configuration: every syncable source × every active connection of an integration. The API
 * runs this inline for small fan-outs and enqueues a `fanout` message for large ones, which the worker handles with
 * this same function, so both paths create exactly the same partitions.
 */
import type { PartitionRef } from "../domain/ids.js";
import type { Repositories } from "../storage/ports.js";

/** Above this many source × connection pairs the API enqueues a fan-out message instead of creating them inline. */
export const FANOUT_INLINE_LIMIT = 200;

/** Partition creations in flight at once. */
const ENSURE_CONCURRENCY = 16;

export interface FanoutScope {
  tenantId: string;
  integrationId: string;
  /** Only this connection's partitions (an enrolment). */
  connectionId?: string;
  /** Only this data type's partitions (a saved source). */
  dataType?: string;
}

/**
 * Ensures a partition exists for each syncable source × active connection in `scope` (`partitions.ensure`: created
 * idle and due now, or an existing config/source_deleted-paused one resumed). Returns how many were created and how
 * many already existed.
 */
export async function ensurePartitionsFor(
  repos: Pick<Repositories, "sources" | "connections" | "partitions">,
  scope: FanoutScope,
  now: number,
): Promise<{ created: number; existing: number }> {
  const [sources, connections] = await Promise.all([
    repos.sources.list(scope.tenantId, scope.integrationId),
    repos.connections.list(scope.tenantId, scope.integrationId),
  ]);
  const wantedSources = sources.filter(
    (source) => source.referenceData.syncable && (scope.dataType === undefined || source.dataType === scope.dataType),
  );
  const wantedConnections = connections.filter(
    (connection) =>
      connection.status === "active" &&
      (scope.connectionId === undefined || connection.connectionId === scope.connectionId),
  );
  const work: { ref: PartitionRef; syncType: "list" | "object" }[] = [];
  for (const connection of wantedConnections) {
    for (const source of wantedSources) {
      work.push({
        ref: {
          tenantId: scope.tenantId,
          integrationId: scope.integrationId,
          connectionId: connection.connectionId,
          dataType: source.dataType,
        },
        syncType: source.referenceData.syncType,
      });
    }
  }
  let created = 0;
  let next = 0;
  const worker = async () => {
    while (next < work.length) {
      const entry = work[next++];
      if (!entry) break;
      const result = await repos.partitions.ensure(entry.ref, { syncType: entry.syncType, now });
      if (result.created) created++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(ENSURE_CONCURRENCY, work.length) }, worker));
  return { created, existing: work.length - created };
}
