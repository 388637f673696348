/**
 * Tenant quotas (DESIGN.md "quotas"), one decision in one place: the configuration routes (PUT source, PUT connection)
 * and discovery ask `assertWithinQuotas` before they add something, and call `refreshUsage` after any change. A quota
 * is only checked where something is added: it never fails a sync already queued, and a tenant above a lowered limit
 * can still replace what it has.
 *
 * Counting without a Scan: the integration's sources and connections are read (two Queries under its PK), and the
 * tenant's other integrations come from one Query of its `INTEG#` rows, each holding that integration's syncable
 * sources and active connections; partitions are their products. Two concurrent requests may both pass the last free
 * slot (a soft limit); the counts are rewritten from the rows on every change, so they never drift.
 */
import type { Config } from "./config.js";
import { QuotaExceededError } from "./domain/errors.js";
import type { Repositories } from "./storage/ports.js";

export interface QuotaLimits {
  integrations: number;
  sourcesPerIntegration: number;
  connectionsPerIntegration: number;
  partitions: number;
}

/** DESIGN.md's defaults. */
export const DEFAULT_QUOTAS: QuotaLimits = {
  integrations: 100,
  sourcesPerIntegration: 50,
  connectionsPerIntegration: 1_000,
  partitions: 20_000,
};

/** The limits configured for this deployment (QUOTA_* variables). */
export function quotaLimits(config: Config): QuotaLimits {
  return {
    integrations: config.QUOTA_INTEGRATIONS,
    sourcesPerIntegration: config.QUOTA_SOURCES_PER_INTEGRATION,
    connectionsPerIntegration: config.QUOTA_CONNECTIONS_PER_INTEGRATION,
    partitions: config.QUOTA_PARTITIONS,
  };
}

export interface QuotaDeps {
  repos: Pick<Repositories, "sources" | "connections" | "usage">;
  limits?: QuotaLimits;
}

/** What a caller is about to add to one integration. */
export interface PlannedAddition {
  tenantId: string;
  integrationId: string;
  /** Sources to create or replace, with whether they will be syncable. */
  sources?: { dataType: string; syncable: boolean }[];
  /** Connections to enroll (or re-activate). */
  connections?: string[];
}

/**
 * Throws QuotaExceededError (429 QUOTA_EXCEEDED, `details.quota` naming the quota) when the addition would take the
 * tenant past a limit it is not already past.
 */
export async function assertWithinQuotas(deps: QuotaDeps, addition: PlannedAddition): Promise<void> {
  const limits = deps.limits ?? DEFAULT_QUOTAS;
  const { tenantId, integrationId } = addition;
  const [sources, connections, integrations] = await Promise.all([
    deps.repos.sources.list(tenantId, integrationId),
    deps.repos.connections.list(tenantId, integrationId),
    deps.repos.usage.listIntegrations(tenantId),
  ]);
  const sourceTypes = new Map(sources.map((s) => [s.dataType, s.referenceData.syncable]));
  for (const source of addition.sources ?? []) sourceTypes.set(source.dataType, source.syncable);
  const active = new Set(connections.filter((c) => c.status === "active").map((c) => c.connectionId));
  const activeBefore = active.size;
  for (const connectionId of addition.connections ?? []) active.add(connectionId);

  const others = integrations.filter((usage) => usage.integrationId !== integrationId);
  const known = others.length < integrations.length || sources.length > 0 || connections.length > 0;
  if (!known) {
    check("integrations", limits.integrations, others.length + 1, others.length, "integrations configured");
  }
  check(
    "sourcesPerIntegration",
    limits.sourcesPerIntegration,
    sourceTypes.size,
    sources.length,
    `sources in integration '${integrationId}'`,
  );
  check(
    "connectionsPerIntegration",
    limits.connectionsPerIntegration,
    active.size,
    activeBefore,
    `active connections in integration '${integrationId}'`,
  );
  const elsewhere = others.reduce((sum, usage) => sum + usage.sources * usage.connections, 0);
  const syncableBefore = sources.filter((s) => s.referenceData.syncable).length;
  const syncableAfter = [...sourceTypes.values()].filter(Boolean).length;
  check(
    "partitions",
    limits.partitions,
    elsewhere + syncableAfter * active.size,
    elsewhere + syncableBefore * activeBefore,
    "partitions (syncable sources × active connections, over every integration)",
  );
}

/** Rewrites the integration's counts from its rows (after any source or connection change). */
export async function refreshUsage(
  deps: Pick<QuotaDeps, "repos">,
  scope: { tenantId: string; integrationId: string },
  now: number,
): Promise<void> {
  const [sources, connections] = await Promise.all([
    deps.repos.sources.list(scope.tenantId, scope.integrationId),
    deps.repos.connections.list(scope.tenantId, scope.integrationId),
  ]);
  const usage =
    sources.length === 0 && connections.length === 0
      ? undefined
      : {
          sources: sources.filter((s) => s.referenceData.syncable).length,
          connections: connections.filter((c) => c.status === "active").length,
        };
  await deps.repos.usage.recordIntegration(scope.tenantId, scope.integrationId, usage, now);
}

/** Fails when `after` passes `limit` and grows beyond `before` (a tenant over a lowered limit may still replace). */
function check(quota: keyof QuotaLimits, limit: number, after: number, before: number, what: string): void {
  if (after <= limit || after <= before) return;
  throw new QuotaExceededError(
    quota,
    limit,
    after,
    `Quota exceeded: ${quota} allows ${limit} ${what}; this request would make it ${after}`,
  );
}
