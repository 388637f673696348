/**
 * Sources (list, get, put, delete). Saving a source creates the partitions it implies for every active connection;
 * deleting one pauses its partitions, and its cached data stays in the table (a removal never deletes data).
 */
import type { z } from "zod";
import { NotFoundError, ValidationError } from "../../domain/errors.js";
import type { Source } from "../../domain/source-config.js";
import { assertWithinQuotas, refreshUsage } from "../../quotas.js";
import { type ConfigDeps, ensureOrFanout, noChange, pauseAll, quotaDeps, type Scope } from "./partitions.js";
import type { PartitionChange, SourceWire, sourceBodySchema } from "./schemas.js";

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
