/**
 * The configuration endpoints as services: sources (list, get, put, delete) and connections (list, enroll, revoke).
 * Saving a source or enrolling a connection creates the partitions it implies, inline when there are at most
 * FANOUT_INLINE_LIMIT of them, else through a `fanout` queue message (never hundreds of writes inside a 29-second API
 * call). Deleting a source or revoking a connection pauses its partitions; their cached data stays in the table (a
 * removal never deletes data), and reads of a revoked connection stop because the query routes check
 * `connections.get(...).status`.
 */
import { z } from "zod";
import { mapLimit } from "../concurrency.js";
import { type Clock, iso } from "../domain/clock.js";
import type { Connection, Partition, PauseReason } from "../domain/entities.js";
import { ConflictError, InternalError, NotFoundError, ValidationError } from "../domain/errors.js";
import {
  connectionIdSchema,
  DEFAULT_CONNECTION_ID,
  dataTypeSchema,
  integrationIdSchema,
  type PartitionRef,
} from "../domain/ids.js";
import { type Source, sourceInputSchema } from "../domain/source-config.js";
import type { FanoutMessage } from "../domain/sync-message.js";
import type { Logger } from "../log.js";
import { assertWithinQuotas, type QuotaLimits, refreshUsage } from "../quotas.js";
import type { Repositories } from "../storage/ports.js";
import { ensurePartitionsFor, FANOUT_INLINE_LIMIT } from "../sync/partitions.js";
import type { SyncQueue } from "../sync/sync-queue.js";

const CONCURRENCY = 16;

// ---------------------------------------------------------------------------------------------------------------
// Schemas (also the OpenAPI document's)

export const sourcePathSchema = z.object({ integrationId: integrationIdSchema, dataType: dataTypeSchema });
export const connectionPathSchema = z.object({ integrationId: integrationIdSchema, connectionId: connectionIdSchema });
export const sourceBodySchema = sourceInputSchema;

export const sourceWireSchema = z.object({
  dataType: z.string(),
  integrationSlug: z.string(),
  actionSlug: z.string(),
  referenceData: z.record(z.string(), z.unknown()),
  /** `discovered`: from Waygate's action metadata; `manual`: saved with PUT (shadows a discovered one). */
  origin: z.enum(["manual", "discovered"]),
  /** This service's own fields on a discovered source (PATCH), already merged into `referenceData`. */
  extensions: z.record(z.string(), z.unknown()).optional(),
  revision: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SourceWire = z.infer<typeof sourceWireSchema>;

export const connectionWireSchema = z.object({
  connectionId: z.string(),
  status: z.enum(["active", "revoked"]),
  isPrimary: z.boolean().optional(),
  origin: z.enum(["manual", "discovered"]).optional(),
  gatewayStatus: z.enum(["active", "error", "disabled"]).optional(),
  enrolledAt: z.string(),
  revokedAt: z.string().optional(),
  updatedAt: z.string(),
  /** Set by PATCH: paused (its partitions paused `manual`) and its TTL override. */
  paused: z.boolean().optional(),
  ttlSeconds: z.number().int().optional(),
});
export type ConnectionWire = z.infer<typeof connectionWireSchema>;

/** How the partitions implied by a change were handled. */
export const partitionChangeSchema = z.object({
  /** `inline`: created now; `fanout`: a queue message creates them shortly. */
  mode: z.enum(["inline", "fanout", "none"]),
  created: z.number().int(),
  existing: z.number().int(),
  resumed: z.number().int(),
  paused: z.number().int(),
});
export type PartitionChange = z.infer<typeof partitionChangeSchema>;

export const putSourceResultSchema = z.object({ source: sourceWireSchema, partitions: partitionChangeSchema });
export const deleteSourceResultSchema = z.object({
  dataType: z.string(),
  deleted: z.literal(true),
  partitions: partitionChangeSchema,
});
export const connectionResultSchema = z.object({
  connection: connectionWireSchema,
  partitions: partitionChangeSchema,
});

export interface ConfigDeps {
  repos: Pick<Repositories, "sources" | "connections" | "partitions" | "jobs" | "usage" | "tenants">;
  /** Tenant quotas; DESIGN.md's defaults when absent. */
  quotas?: QuotaLimits;
  queue: SyncQueue | undefined;
  clock: Clock;
  log: Logger;
}

interface Scope {
  tenantId: string;
  integrationId: string;
}

const noChange = (): PartitionChange => ({ mode: "none", created: 0, existing: 0, resumed: 0, paused: 0 });

// ---------------------------------------------------------------------------------------------------------------
// Sources

/** Every source of the integration, by data type. */
export async function listSources(deps: Pick<ConfigDeps, "repos">, scope: Scope): Promise<SourceWire[]> {
  const sources = await deps.repos.sources.list(scope.tenantId, scope.integrationId);
  return sources.map(sourceWire).sort((a, b) => a.dataType.localeCompare(b.dataType));
}

/** One source; NotFoundError when absent. */
export async function getSource(
  deps: Pick<ConfigDeps, "repos">,
  scope: Scope & { dataType: string },
): Promise<SourceWire> {
  const source = await deps.repos.sources.get(scope.tenantId, scope.integrationId, scope.dataType);
  if (!source) throw new NotFoundError(`No source for data type '${scope.dataType}'`, { dataType: scope.dataType });
  return sourceWire(source);
}

/**
 * Creates or replaces a source (`created` tells which), then creates the partitions it implies for every active
 * connection (a source saved with `syncable: false` pauses its partitions instead). The body was validated at the
 * edge; its `referenceData.dataType` must equal the path's.
 */
export async function putSource(
  deps: ConfigDeps,
  scope: Scope & { dataType: string },
  body: z.output<typeof sourceBodySchema>,
): Promise<{ created: boolean; source: SourceWire; partitions: PartitionChange }> {
  if (body.referenceData.dataType !== scope.dataType) {
    throw new ValidationError(
      `referenceData.dataType '${body.referenceData.dataType}' must equal the data type in the path '${scope.dataType}'`,
      { issues: [{ field: "referenceData.dataType", message: `must be '${scope.dataType}'` }] },
    );
  }
  await assertWithinQuotas(quotaDeps(deps), {
    ...scope,
    sources: [{ dataType: scope.dataType, syncable: body.referenceData.syncable }],
  });
  const now = deps.clock.now();
  const source = await deps.repos.sources.put(scope.tenantId, scope.integrationId, scope.dataType, body, now);
  await refreshUsage(deps, scope, now);
  let partitions: PartitionChange;
  if (source.referenceData.syncable) {
    const connections = await deps.repos.connections.list(scope.tenantId, scope.integrationId);
    const active = connections.filter((c) => c.status === "active").length;
    partitions = await ensureOrFanout(deps, { ...scope, dataType: scope.dataType }, active, now);
  } else {
    const existing = await deps.repos.partitions.listByIntegration(scope.tenantId, scope.integrationId, {
      dataType: scope.dataType,
    });
    partitions = { ...noChange(), paused: await pauseAll(deps, existing, "config", now, "source is not syncable") };
  }
  return { created: source.revision === 1, source: sourceWire(source), partitions };
}

/** Pauses the source's partitions (`source_deleted`), then deletes the source. NotFoundError when absent. */
export async function deleteSource(
  deps: ConfigDeps,
  scope: Scope & { dataType: string },
): Promise<{ dataType: string; deleted: true; partitions: PartitionChange }> {
  const source = await deps.repos.sources.get(scope.tenantId, scope.integrationId, scope.dataType);
  if (!source) throw new NotFoundError(`No source for data type '${scope.dataType}'`, { dataType: scope.dataType });
  const now = deps.clock.now();
  // Pause first: a crash between the two leaves a source with paused partitions, and a repeated DELETE finishes it.
  const partitions = await deps.repos.partitions.listByIntegration(scope.tenantId, scope.integrationId, {
    dataType: scope.dataType,
  });
  const paused = await pauseAll(deps, partitions, "source_deleted", now, "source deleted");
  await deps.repos.sources.delete(scope.tenantId, scope.integrationId, scope.dataType);
  await refreshUsage(deps, scope, now);
  return { dataType: scope.dataType, deleted: true, partitions: { ...noChange(), paused } };
}

// ---------------------------------------------------------------------------------------------------------------
// Connections

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

// ---------------------------------------------------------------------------------------------------------------

async function ensureOrFanout(
  deps: ConfigDeps,
  scope: Scope & { connectionId?: string; dataType?: string },
  pairs: number,
  now: number,
): Promise<PartitionChange> {
  if (pairs === 0) return noChange();
  if (pairs <= FANOUT_INLINE_LIMIT) {
    const result = await ensurePartitionsFor(deps.repos, scope, now);
    return { ...noChange(), mode: "inline", ...result };
  }
  if (!deps.queue) throw new InternalError("The sync queue is not configured (QUEUE_URL); cannot fan out partitions");
  const message: FanoutMessage = { v: 1, kind: "fanout", tenantId: scope.tenantId, integrationId: scope.integrationId };
  if (scope.connectionId) message.connectionId = scope.connectionId;
  if (scope.dataType) message.dataType = scope.dataType;
  const sent = await deps.queue.send([message]);
  if (sent.failed.length > 0) throw new InternalError("Could not enqueue the partition fan-out; retry the request");
  deps.log.info("partition fan-out enqueued", { ...scope, pairs });
  return { ...noChange(), mode: "fanout" };
}

/** Pauses each partition not already paused for `reason`, and fails the job it had in flight. Returns how many. */
export async function pauseAll(
  deps: { repos: Pick<Repositories, "partitions" | "jobs"> },
  partitions: Partition[],
  reason: PauseReason,
  now: number,
  why: string,
): Promise<number> {
  const targets = partitions.filter((p) => !(p.status === "paused" && p.pauseReason === reason));
  await mapLimit(targets, CONCURRENCY, async (p) => {
    try {
      await deps.repos.partitions.pause(refOf(p), reason, now);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      return;
    }
    // Pausing drops the partition's current job: mark it failed so the history does not show it pending forever.
    if (p.currentJobId && (p.status === "queued" || p.status === "syncing")) {
      try {
        await deps.repos.jobs.update(
          p.tenantId,
          p.integrationId,
          p.currentJobId,
          { status: "failed", completedAt: iso(now), error: { code: "CANCELLED", message: `Cancelled: ${why}` } },
          { expectStatus: ["pending", "syncing"] },
        );
      } catch (error) {
        if (!(error instanceof ConflictError) && !(error instanceof NotFoundError)) throw error;
      }
    }
  });
  return targets.length;
}

function quotaDeps(deps: ConfigDeps) {
  return deps.quotas ? { repos: deps.repos, limits: deps.quotas } : { repos: deps.repos };
}

function refOf(p: Partition): PartitionRef {
  return { tenantId: p.tenantId, integrationId: p.integrationId, connectionId: p.connectionId, dataType: p.dataType };
}

function sourceWire(source: Source): SourceWire {
  return {
    dataType: source.dataType,
    integrationSlug: source.integrationSlug,
    actionSlug: source.actionSlug,
    referenceData: source.referenceData as Record<string, unknown>,
    origin: source.origin ?? "manual",
    ...(source.extensions === undefined ? {} : { extensions: source.extensions }),
    revision: source.revision,
    createdAt: source.createdAt,
    updatedAt: source.updatedAt,
  };
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
