/**
 * One discovery run for one tenant (DESIGN.md "Gateway credentials and discovery"): read all three listings through
 * the tenant's key first, and only when every page of every listing has been read, apply what they say — discovered
 * sources added, updated and removed (manual sources never touched, and shadowing a discovered one of the same
 * data type), connections enrolled, paused, resumed and revoked, the primary connection recorded. A listing that
 * fails halfway changes nothing. Cached items are never deleted.
 */

import { enrollConnection, revokeConnection } from "../api/config/connections.js";
import { pauseAll } from "../api/config/partitions.js";
import { deleteSource } from "../api/config/sources.js";
import { mapLimit } from "../concurrency.js";
import type { Clock } from "../domain/clock.js";
import { type DiscoveryCounts, type DiscoveryProblem, emptyDiscoveryCounts } from "../domain/discovery.js";
import type { Connection, Partition } from "../domain/entities.js";
import { isAppError, QuotaExceededError } from "../domain/errors.js";
import type { Source } from "../domain/source-config.js";
import type { EventPublisher } from "../events/events.js";
import { canonicalJson } from "../extraction/extract.js";
import type { GatewayLister } from "../gateway/client.js";
import { schedulePurges } from "../lifecycle/purge.js";
import type { Logger } from "../log.js";
import { assertWithinQuotas, type QuotaLimits, refreshUsage } from "../quotas.js";
import type { Repositories } from "../storage/ports.js";
import { ensurePartitionsFor } from "../sync/partitions.js";
import {
  actionSchema,
  connectionSchema,
  integrationSchema,
  listAll,
  type WaygateActionRow,
  type WaygateConnection,
  type WaygateIntegration,
} from "./listings.js";
import { buildDiscoveredSource, mapAction } from "./waygate-config.js";

export interface DiscoveryDeps {
  repos: Repositories;
  gateway: GatewayLister;
  clock: Clock;
  log: Logger;
  /** Tenant quotas; DESIGN.md's defaults when absent. A source or connection past one is reported, not added. */
  quotas?: QuotaLimits;
  /** Where `Discovery Completed` goes after a run committed (default: nowhere). */
  events?: EventPublisher;
  /** A removed source's or revoked connection's data is purged this long after (REVOKED_RETENTION_DAYS). */
  purgeAfterMs?: number;
}

interface Snapshot {
  integration: WaygateIntegration;
  actions: WaygateActionRow[];
  connections: WaygateConnection[];
}

const CONCURRENCY = 4;

/** Reads everything, then applies it. Throws (changing nothing) when a listing fails. */
export async function discoverTenant(
  deps: DiscoveryDeps,
  tenantId: string,
  deadline: number,
): Promise<DiscoveryCounts> {
  const integrations = await listAll(deps.gateway, {
    tenantId,
    path: "/api/v1/integrations",
    field: "integrations",
    schema: integrationSchema,
    deadline,
  });
  const live = integrations.filter((integration) => integration.status !== "disabled");
  const snapshots = await mapLimit(live, CONCURRENCY, async (integration): Promise<Snapshot> => {
    const base = `/api/v1/integrations/${encodeURIComponent(integration.id)}`;
    const [actions, connections] = await Promise.all([
      listAll(deps.gateway, { tenantId, path: `${base}/actions`, field: "actions", schema: actionSchema, deadline }),
      listAll(deps.gateway, {
        tenantId,
        path: `${base}/connections`,
        field: "connections",
        schema: connectionSchema,
        deadline,
      }),
    ]);
    return { integration, actions, connections };
  });

  const report = emptyDiscoveryCounts();
  report.integrations = snapshots.length;
  const seen = new Set<string>();
  for (const snapshot of snapshots) {
    seen.add(snapshot.integration.id);
    await applyIntegration(deps, tenantId, snapshot, report);
  }
  // Integrations Waygate no longer lists (or lists disabled): their discovered sources and connections go.
  for (const { integrationId } of await deps.repos.usage.listIntegrations(tenantId)) {
    if (!seen.has(integrationId)) await retireIntegration(deps, tenantId, integrationId, report);
  }
  return report;
}

async function applyIntegration(
  deps: DiscoveryDeps,
  tenantId: string,
  snapshot: Snapshot,
  report: DiscoveryCounts,
): Promise<void> {
  const { integration } = snapshot;
  const integrationId = integration.id;
  const scope = { tenantId, integrationId };
  const problem = (p: Omit<DiscoveryProblem, "integrationId">) => report.problems.push({ integrationId, ...p });
  const existing = new Map((await deps.repos.sources.list(tenantId, integrationId)).map((s) => [s.dataType, s]));

  // Sources: the first action in slug order wins a data type.
  const wanted = new Set<string>();
  const actions = [...snapshot.actions].sort((a, b) => a.slug.localeCompare(b.slug));
  for (const action of actions) {
    const mapping = mapAction(action);
    if (mapping.kind === "not_syncable") continue;
    if (mapping.kind === "invalid") {
      problem(mapping.problem);
      continue;
    }
    const { dataType } = mapping;
    if (wanted.has(dataType)) {
      problem({
        actionSlug: action.slug,
        code: "DUPLICATE_DATA_TYPE",
        field: "metadata.referenceData.dataType",
        message: `another action already provides '${dataType}' (the first in slug order wins)`,
      });
      continue;
    }
    wanted.add(dataType);
    for (const note of mapping.notes) problem(note);
    const current = existing.get(dataType);
    if (current && current.origin !== "discovered") {
      report.sources.shadowed++;
      problem({
        actionSlug: action.slug,
        code: "SHADOWED",
        message: `a source saved with PUT for '${dataType}' shadows the discovered one`,
      });
      continue;
    }
    const built = buildDiscoveredSource(integration.slug, action, mapping.discoveredConfig, current?.extensions);
    if (!built.ok) {
      problem(built.problem);
      continue;
    }
    if (current && sameSource(current, built.input, mapping.discoveredConfig)) {
      report.sources.unchanged++;
      continue;
    }
    if (!current) {
      try {
        await assertWithinQuotas(
          { repos: deps.repos, ...(deps.quotas ? { limits: deps.quotas } : {}) },
          { tenantId, integrationId, sources: [{ dataType, syncable: built.input.referenceData.syncable }] },
        );
      } catch (error) {
        if (!(error instanceof QuotaExceededError)) throw error;
        problem({ actionSlug: action.slug, code: error.code, message: error.message });
        continue;
      }
    }
    await deps.repos.sources.put(tenantId, integrationId, dataType, built.input, deps.clock.now(), {
      origin: "discovered",
      discoveredConfig: mapping.discoveredConfig,
      ...(current?.extensions ? { extensions: current.extensions } : {}),
    });
    if (current) report.sources.updated++;
    else report.sources.added++;
  }
  for (const source of existing.values()) {
    if (source.origin === "discovered" && !wanted.has(source.dataType)) {
      await deleteSource(configDeps(deps), { ...scope, dataType: source.dataType });
      await purgeLaterFor(deps, { ...scope, dataType: source.dataType });
      report.sources.removed++;
    }
  }

  await refreshUsage(deps, scope, deps.clock.now());

  // Connections.
  const enrolled = new Map(
    (await deps.repos.connections.list(tenantId, integrationId)).map((c) => [c.connectionId, c]),
  );
  const listed = new Set<string>();
  for (const connection of snapshot.connections) {
    listed.add(connection.id);
    try {
      await applyConnection(deps, tenantId, integrationId, connection, enrolled.get(connection.id), report);
    } catch (error) {
      // A quota, or an ID this service cannot take: reported, the rest of the run goes on.
      if (!isAppError(error) || error.status >= 500) throw error;
      problem({ connectionId: connection.id, code: error.code, message: error.message });
    }
  }
  for (const connection of enrolled.values()) {
    if (connection.origin === "discovered" && connection.status === "active" && !listed.has(connection.connectionId)) {
      await revokeConnection(configDeps(deps), { ...scope, connectionId: connection.connectionId });
      await purgeLaterFor(deps, { ...scope, connectionId: connection.connectionId });
      report.connections.revoked++;
    }
  }
  // Partitions for every syncable source × active connection (new sources and new connections alike).
  await ensurePartitionsFor(deps.repos, scope, deps.clock.now());
  await pauseUnavailableConnections(deps, tenantId, integrationId, snapshot.connections);
}

async function applyConnection(
  deps: DiscoveryDeps,
  tenantId: string,
  integrationId: string,
  connection: WaygateConnection,
  current: Connection | undefined,
  report: DiscoveryCounts,
): Promise<void> {
  const gatewayStatus =
    connection.status === "error" || connection.status === "disabled" ? connection.status : "active";
  const isPrimary = connection.isPrimary === true;
  const scope = { tenantId, integrationId, connectionId: connection.id };
  if (current === undefined || current.status !== "active") {
    // A connection revoked by hand stays revoked: only discovery's own come back.
    if (current !== undefined && current.origin !== "discovered") return;
    await enrollConnection(configDeps(deps), scope);
    if (gatewayStatus === "active") report.connections.enrolled++;
  }
  const wasUnavailable = current?.gatewayStatus === "error" || current?.gatewayStatus === "disabled";
  if (gatewayStatus !== "active" && current?.gatewayStatus !== gatewayStatus) report.connections.paused++;
  if (gatewayStatus === "active" && wasUnavailable) {
    const partitions = await deps.repos.partitions.listByIntegration(tenantId, integrationId, {
      connectionId: connection.id,
    });
    const now = deps.clock.now();
    const targets = partitions.filter(
      (p) => p.status === "paused" && (p.pauseReason === "connection_error" || p.pauseReason === "connection_disabled"),
    );
    await mapLimit(targets, CONCURRENCY, (p) => deps.repos.partitions.resume(p, now));
    report.connections.enrolled++;
  }
  // A connection enrolled by hand stays manual (discovery never revokes it); one discovery enrolled is its own.
  const origin = current === undefined ? "discovered" : (current.origin ?? "manual");
  if (current?.isPrimary !== isPrimary || current?.gatewayStatus !== gatewayStatus || current?.origin !== origin) {
    await deps.repos.connections.setGatewayState(
      tenantId,
      integrationId,
      connection.id,
      { isPrimary, gatewayStatus, origin },
      deps.clock.now(),
    );
  }
}

async function pauseUnavailableConnections(
  deps: DiscoveryDeps,
  tenantId: string,
  integrationId: string,
  connections: WaygateConnection[],
): Promise<void> {
  const unavailable = connections.filter((c) => c.status === "error" || c.status === "disabled");
  const now = deps.clock.now();
  for (const connection of unavailable) {
    const partitions: Partition[] = await deps.repos.partitions.listByIntegration(tenantId, integrationId, {
      connectionId: connection.id,
    });
    const live = partitions.filter(
      (p) =>
        !(p.status === "paused" && p.pauseReason !== "connection_error" && p.pauseReason !== "connection_disabled"),
    );
    await pauseAll(
      deps,
      live,
      connection.status === "error" ? "connection_error" : "connection_disabled",
      now,
      `Waygate reports the connection ${connection.status}`,
    );
  }
}

/** An integration no longer listed: its discovered sources are removed and its discovered connections revoked. */
async function retireIntegration(
  deps: DiscoveryDeps,
  tenantId: string,
  integrationId: string,
  report: DiscoveryCounts,
): Promise<void> {
  const scope = { tenantId, integrationId };
  for (const source of await deps.repos.sources.list(tenantId, integrationId)) {
    if (source.origin !== "discovered") continue;
    await deleteSource(configDeps(deps), { ...scope, dataType: source.dataType });
    await purgeLaterFor(deps, { ...scope, dataType: source.dataType });
    report.sources.removed++;
  }
  for (const connection of await deps.repos.connections.list(tenantId, integrationId)) {
    if (connection.origin !== "discovered" || connection.status !== "active") continue;
    await revokeConnection(configDeps(deps), { ...scope, connectionId: connection.connectionId });
    await purgeLaterFor(deps, { ...scope, connectionId: connection.connectionId });
    report.connections.revoked++;
  }
}

/** As after a DELETE of the source or the connection: its data is purged once the retention has passed. */
async function purgeLaterFor(
  deps: DiscoveryDeps,
  scope: { tenantId: string; integrationId: string; connectionId?: string; dataType?: string },
): Promise<void> {
  if (deps.purgeAfterMs === undefined) return;
  await schedulePurges(deps.repos, scope, deps.clock.now() + deps.purgeAfterMs);
}

function sameSource(
  current: Source,
  input: { integrationSlug: string; actionSlug: string },
  discovered: Record<string, unknown>,
): boolean {
  return (
    current.integrationSlug === input.integrationSlug &&
    current.actionSlug === input.actionSlug &&
    canonicalJson(current.discoveredConfig ?? null) === canonicalJson(discovered)
  );
}

function configDeps(deps: DiscoveryDeps) {
  return {
    repos: deps.repos,
    queue: undefined,
    clock: deps.clock,
    log: deps.log,
    ...(deps.quotas ? { quotas: deps.quotas } : {}),
  };
}
