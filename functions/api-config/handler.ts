/**
 * The api-config Lambda: the OpenAPI document, sources and connections, gateway credentials, discovery, webhooks and
 * tenant erasure (shared/api/{docs,config,credentials,discovery,webhooks,tenant}/routes.ts).
 */

import { configRoutes } from "../../shared/api/config/routes.js";
import { credentialsRoutes } from "../../shared/api/credentials/routes.js";
import { discoveryRoutes } from "../../shared/api/discovery/routes.js";
import { docsRoutes } from "../../shared/api/docs/routes.js";
import { tenantRoutes } from "../../shared/api/tenant/routes.js";
import { webhookRoutes } from "../../shared/api/webhooks/routes.js";
import { routeHandler } from "../../shared/http/middleware.js";

export const handler = routeHandler({
  ...docsRoutes,
  ...configRoutes,
  ...credentialsRoutes,
  ...discoveryRoutes,
  ...webhookRoutes,
  ...tenantRoutes,
});
