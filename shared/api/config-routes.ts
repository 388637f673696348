/**
 * The routes of the api-config Lambda: the OpenAPI document, sources and connections. Thin: the runtime's
 * dependencies go to the services in config-service.ts.
 */
import { z } from "zod";
import { created, type HttpRoute, httpRoute, ok, raw } from "../http/middleware.js";
import { quotaLimits } from "../quotas.js";
import { getRuntime } from "../runtime.js";
import {
  connectionPathSchema,
  connectionResultSchema,
  connectionWireSchema,
  deleteSource,
  deleteSourceResultSchema,
  enrollConnection,
  getSource,
  listConnections,
  listSources,
  putSource,
  putSourceResultSchema,
  revokeConnection,
  sourceBodySchema,
  sourcePathSchema,
  sourceWireSchema,
} from "./config-service.js";
import { changeRoutes, consumerConfigRoutes, purgeLater } from "./consumer-routes.js";
import { gatewayRoutes } from "./gateway-routes.js";
import { buildOpenApiDocument, type OpenApiDocument } from "./openapi.js";
import { queryRoutes } from "./query/routes.js";
import { syncRoutes } from "./sync-routes.js";
import { integrationPathSchema } from "./sync-service.js";

let document: OpenApiDocument | undefined;
/** Built once per warm Lambda: it depends only on the route table and the schemas. */
const openApiDocument = () => {
  document ??= buildOpenApiDocument({
    ...queryRoutes,
    ...syncRoutes,
    ...configRoutes,
    ...changeRoutes,
    ...consumerConfigRoutes,
  });
  return document;
};

const deps = () => {
  const { repos, queue, clock, log, config } = getRuntime();
  return { repos, queue, clock, log, quotas: quotaLimits(config) };
};

export const configRoutes: Record<string, HttpRoute> = {
  openapi: httpRoute({ scope: "public", response: { raw: true } }, async () => raw(openApiDocument())),
  listSources: httpRoute(
    { scope: "admin", path: integrationPathSchema, response: { data: z.array(sourceWireSchema) } },
    async ({ tenantId, path }) => ok(await listSources(deps(), { tenantId, integrationId: path.integrationId })),
  ),
  getSource: httpRoute(
    { scope: "admin", path: sourcePathSchema, response: { data: sourceWireSchema } },
    async ({ tenantId, path }) => ok(await getSource(deps(), { tenantId, ...path })),
  ),
  putSource: httpRoute(
    {
      scope: "admin",
      path: sourcePathSchema,
      body: sourceBodySchema,
      response: { data: putSourceResultSchema, status: 201 },
    },
    async ({ tenantId, path, body }) => {
      const { created: isNew, source, partitions } = await putSource(deps(), { tenantId, ...path }, body);
      return isNew ? created({ source, partitions }) : ok({ source, partitions });
    },
  ),
  deleteSource: httpRoute(
    { scope: "admin", path: sourcePathSchema, response: { data: deleteSourceResultSchema } },
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
  ...gatewayRoutes,
};
