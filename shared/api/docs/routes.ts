/**
 * GET /api/v1/openapi.json (api-config): the OpenAPI document, built from every area's routes (the route table and
 * the zod schemas each route validates with). A new area adds its routes to API_AREAS.
 */
import { type HttpRoute, httpRoute, raw } from "../../http/middleware.js";
import { configRoutes } from "../config/routes.js";
import { credentialsRoutes } from "../credentials/routes.js";
import { discoveryRoutes } from "../discovery/routes.js";
import { buildOpenApiDocument, type OpenApiDocument } from "../openapi.js";
import { queryRoutes } from "../query/routes.js";
import { syncRoutes } from "../sync/routes.js";
import { tenantRoutes } from "../tenant/routes.js";
import { webhookRoutes } from "../webhooks/routes.js";

let document: OpenApiDocument | undefined;
/** Built once per warm Lambda: it depends only on the route table and the schemas. */
const openApiDocument = () => {
  document ??= buildOpenApiDocument(Object.assign({}, docsRoutes, ...API_AREAS));
  return document;
};

export const docsRoutes: Record<string, HttpRoute> = {
  openapi: httpRoute({ scope: "public", response: { raw: true } }, async () => raw(openApiDocument())),
};

/** Every area's routes but this one's. */
const API_AREAS: readonly Record<string, HttpRoute>[] = [
  queryRoutes,
  syncRoutes,
  configRoutes,
  credentialsRoutes,
  discoveryRoutes,
  webhookRoutes,
  tenantRoutes,
];
