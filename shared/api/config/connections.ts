/**
 * Connections: list, enroll, revoke, and their settings (pause, TTL override). Enrolling creates a connection's
 * partitions; revoking pauses them, and reads of a revoked connection stop because the query routes check
 * `connections.get(...).status`.
 *
 * PATCH `{ paused?, ttlSeconds? }` (DESIGN.md "REST API"): pausing pauses the connection's partitions (`pauseReason:
 * manual`; their data stays served, marked stale), so neither the planner (a paused partition has no due-index entry)
 * nor a trigger (409) syncs them; resuming makes them due now. A TTL override replaces its sources'
 * `defaultTtlSeconds` for every later sync and moves an idle partition's next sync to its last sync + the new TTL;
 * `null` clears it. The worker also refuses to sync a paused connection.
 */
import { mapLimit } from "../../concurrency.js";
import type { Clock } from "../../domain/clock.js";
import type { Connection, Partition } from "../../domain/entities.js";
import { ValidationError } from "../../domain/errors.js";
import { DEFAULT_CONNECTION_ID, refOf } from "../../domain/ids.js";
import { assertWithinQuotas, refreshUsage } from "../../quotas.js";
import type { Repositories } from "../../storage/ports.js";
import {
  CONCURRENCY,
  type ConfigDeps,
  ensureOrFanout,
  noChange,
  pauseAll,
  quotaDeps,
  type Scope,
} from "./partitions.js";
import type { ConnectionPatch, ConnectionSettingsResult, ConnectionWire, PartitionChange } from "./schemas.js";

/** Every connection of the integration, active and revoked. */
export async function listConnections(deps: Pick<ConfigDeps, "repos">, scope: Scope): Promise<ConnectionWire[]> {
  const connections = await deps.repos.connections.list(scope.tenantId, scope.integrationId);
  return connections.map(connectionWire).sort((a, b) => a.connectionId.localeCompare(b.connectionId));
}

/**
 * Enrolls a connection (or re-activates a revoked one), creates its partitions for every syncable source (due now),
 * and resumes its partitions paused by a revocation or lost credentials (due now).
 */
export async function enrollConnection(
  deps: ConfigDeps,
  scope: Scope & { connectionId: string },
): Promise<{ created: boolean; connection: ConnectionWire; partitions: PartitionChange }> {
  const { tenantId, integrationId, connectionId } = scope;
  await checkConnectionId(deps, tenantId, connectionId);
  const now = deps.clock.now();
  const before = await deps.repos.connections.get(tenantId, integrationId, connectionId);
  if (before?.status !== "active") {
    await assertWithinQuotas(quotaDeps(deps), { tenantId, integrationId, connections: [connectionId] });
  }
  const connection = await deps.repos.connections.enroll(tenantId, integrationId, connectionId, now);
  await refreshUsage(deps, scope, now);
  const sources = (await deps.repos.sources.list(tenantId, integrationId)).filter((s) => s.referenceData.syncable);
  const partitions = await ensureOrFanout(deps, { tenantId, integrationId, connectionId }, sources.length, now);

  // ensure() lifts config/source_deleted/revoked pauses; credentials pauses end only with a new enrolment, here.
  const syncable = new Set(sources.map((s) => s.dataType));
  const existing = await deps.repos.partitions.listByIntegration(tenantId, integrationId, { connectionId });
  const toResume = existing.filter(
    (p) =>
      p.status === "paused" &&
      syncable.has(p.dataType) &&
      (p.pauseReason === "credentials" || p.pauseReason === "revoked"),
  );
  await mapLimit(toResume, CONCURRENCY, (p) => deps.repos.partitions.resume(refOf(p), now));
  partitions.resumed += toResume.length;
  return { created: before === undefined, connection: connectionWire(connection), partitions };
}

/**
 * Revokes a connection and pauses its partitions (`revoked`): nothing syncs for it any more, and the query routes
 * stop serving its data. NotFoundError when it was never enrolled.
 */
export async function revokeConnection(
  deps: ConfigDeps,
  scope: Scope & { connectionId: string },
): Promise<{ connection: ConnectionWire; partitions: PartitionChange }> {
  const { tenantId, integrationId, connectionId } = scope;
  const now = deps.clock.now();
  const connection = await deps.repos.connections.revoke(tenantId, integrationId, connectionId, now);
  await refreshUsage(deps, scope, now);
  const partitions = await deps.repos.partitions.listByIntegration(tenantId, integrationId, { connectionId });
  const paused = await pauseAll(deps, partitions, "revoked", now, "connection revoked");
  return { connection: connectionWire(connection), partitions: { ...noChange(), paused } };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Waygate takes only UUIDs as connection IDs (another one silently means its primary connection): a tenant that has
 * gateway credentials may enroll only UUIDs and `default`.
 */
async function checkConnectionId(deps: ConfigDeps, tenantId: string, connectionId: string): Promise<void> {
  if (connectionId === DEFAULT_CONNECTION_ID || UUID.test(connectionId)) return;
  if (!(await deps.repos.tenants.getCredentials(tenantId))) return;
  throw new ValidationError(
    `Connection ID '${connectionId}' is not a UUID: Waygate identifies connections by UUID (or use 'default')`,
    { issues: [{ field: "connectionId", message: "must be a UUID or 'default'" }] },
  );
}

export async function patchConnection(
  deps: { repos: Pick<Repositories, "connections" | "partitions">; clock: Clock },
  scope: { tenantId: string; integrationId: string; connectionId: string },
  body: ConnectionPatch,
): Promise<ConnectionSettingsResult> {
  const { repos, clock } = deps;
  const now = clock.now();
  const settings: { paused?: boolean; ttlSeconds?: number | null } = {};
  if (body.paused !== undefined) settings.paused = body.paused;
  if (body.ttlSeconds !== undefined) settings.ttlSeconds = body.ttlSeconds;
  const connection = await repos.connections.updateSettings(
    scope.tenantId,
    scope.integrationId,
    scope.connectionId,
    settings,
    now,
  );
  const partitions = await repos.partitions.listByIntegration(scope.tenantId, scope.integrationId, {
    connectionId: scope.connectionId,
  });
  const counts = { paused: 0, resumed: 0, rescheduled: 0 };
  for (const partition of partitions) {
    const ref = refOf(partition);
    if (body.paused === true && partition.status !== "paused") {
      await repos.partitions.pause(ref, "manual", now);
      counts.paused++;
    } else if (body.paused === false && partition.status === "paused" && partition.pauseReason === "manual") {
      await repos.partitions.resume(ref, now);
      counts.resumed++;
    } else if (body.ttlSeconds !== undefined && !connection.paused && partition.lastSyncedAt) {
      const next = nextSyncAt(partition, connection, now);
      if (next !== undefined && (await repos.partitions.reschedule(ref, next, now))) counts.rescheduled++;
    }
  }
  return {
    connection: {
      connectionId: connection.connectionId,
      status: connection.status,
      paused: connection.paused === true,
      ttlSeconds: connection.ttlSeconds ?? null,
      updatedAt: connection.updatedAt,
    },
    partitions: counts,
  };
}

/** With an override: last sync + the override (now at the earliest). Cleared: the next sync sets it from the source. */
function nextSyncAt(partition: Partition, connection: Connection, now: number): number | undefined {
  if (connection.ttlSeconds === undefined || !partition.lastSyncedAt) return undefined;
  return Math.max(now, Date.parse(partition.lastSyncedAt) + connection.ttlSeconds * 1000);
}

function connectionWire(connection: Connection): ConnectionWire {
  const wire: ConnectionWire = {
    connectionId: connection.connectionId,
    status: connection.status,
    enrolledAt: connection.enrolledAt,
    updatedAt: connection.updatedAt,
  };
  if (connection.revokedAt) wire.revokedAt = connection.revokedAt;
  if (connection.isPrimary !== undefined) wire.isPrimary = connection.isPrimary;
  if (connection.origin !== undefined) wire.origin = connection.origin;
  if (connection.gatewayStatus !== undefined) wire.gatewayStatus = connection.gatewayStatus;
  if (connection.paused !== undefined) wire.paused = connection.paused;
  if (connection.ttlSeconds !== undefined) wire.ttlSeconds = connection.ttlSeconds;
  return wire;
}
