/**
 * The config routes (api-config): sources and connections. Thin: the runtime's dependencies go to the operations
 * beside this file.
 */
import { z } from "zod";
import { created, type HttpRoute, httpRoute, ok } from "../../http/middleware.js";
import { schedulePurges } from "../../lifecycle/purge.js";
import { quotaLimits } from "../../quotas.js";
import { getRuntime } from "../../runtime.js";
import { connectionPathSchema, dataTypePathSchema, integrationPathSchema } from "../paths.js";
import { enrollConnection, listConnections, patchConnection, revokeConnection } from "./connections.js";
import {
  connectionPatchSchema,
  connectionResultSchema,
  connectionSettingsResultSchema,
  connectionWireSchema,
  deleteSourceResultSchema,
  putSourceResultSchema,
  sourceBodySchema,
  sourceWireSchema,
} from "./schemas.js";
import { deleteSource, getSource, listSources, putSource } from "./sources.js";

const deps = () => {
  const { repos, queue, clock, log, config } = getRuntime();
  return { repos, queue, clock, log, quotas: quotaLimits(config) };
};

/**
 * After a revoke or a source delete (which paused the partitions): their data is purged REVOKED_RETENTION_DAYS later,
 * by purge messages the planner sends when that time comes (shared/lifecycle/purge.ts).
 */
async function purgeLater<T>(
  done: Promise<T>,
  scope: { tenantId: string; integrationId: string; connectionId?: string; dataType?: string },
): Promise<T> {
  const result = await done;
  const { repos, clock, config } = getRuntime();
  await schedulePurges(repos, scope, clock.now() + config.REVOKED_RETENTION_DAYS * 86_400_000);
  return result;
}

export const configRoutes: Record<string, HttpRoute> = {
  listSources: httpRoute(
    { scope: "admin", path: integrationPathSchema, response: { data: z.array(sourceWireSchema) } },
    async ({ tenantId, path }) => ok(await listSources(deps(), { tenantId, integrationId: path.integrationId })),
  ),
  getSource: httpRoute(
    { scope: "admin", path: dataTypePathSchema, response: { data: sourceWireSchema } },
    async ({ tenantId, path }) => ok(await getSource(deps(), { tenantId, ...path })),
  ),
  putSource: httpRoute(
    {
      scope: "admin",
      path: dataTypePathSchema,
      body: sourceBodySchema,
      response: { data: putSourceResultSchema, status: 201 },
    },
    async ({ tenantId, path, body }) => {
      const { created: isNew, source, partitions } = await putSource(deps(), { tenantId, ...path }, body);
      return isNew ? created({ source, partitions }) : ok({ source, partitions });
    },
  ),
  deleteSource: httpRoute(
    { scope: "admin", path: dataTypePathSchema, response: { data: deleteSourceResultSchema } },
    async ({ tenantId, path }) =>
      ok(await purgeLater(deleteSource(deps(), { tenantId, ...path }), { tenantId, ...path })),
  ),
  listConnections: httpRoute(
    { scope: "admin", path: integrationPathSchema, response: { data: z.array(connectionWireSchema) } },
    async ({ tenantId, path }) => ok(await listConnections(deps(), { tenantId, integrationId: path.integrationId })),
  ),
  enrollConnection: httpRoute(
    { scope: "admin", path: connectionPathSchema, response: { data: connectionResultSchema, status: 201 } },
    async ({ tenantId, path }) => {
      const { created: isNew, connection, partitions } = await enrollConnection(deps(), { tenantId, ...path });
      return isNew ? created({ connection, partitions }) : ok({ connection, partitions });
    },
  ),
  revokeConnection: httpRoute(
    { scope: "admin", path: connectionPathSchema, response: { data: connectionResultSchema } },
    async ({ tenantId, path }) =>
      ok(await purgeLater(revokeConnection(deps(), { tenantId, ...path }), { tenantId, ...path })),
  ),
  patchConnection: httpRoute(
    {
      scope: "admin",
      path: connectionPathSchema,
      body: connectionPatchSchema,
      response: { data: connectionSettingsResultSchema },
    },
    async ({ tenantId, path, body }) => {
      const { repos, clock } = getRuntime();
      return ok(await patchConnection({ repos, clock }, { tenantId, ...path }, body));
    },
  ),
};
