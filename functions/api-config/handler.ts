/** The api-config Lambda: the OpenAPI document, sources and connections (shared/api/config-routes.ts). */

import { configRoutes } from "../../shared/api/config-routes.js";
import { consumerConfigRoutes } from "../../shared/api/consumer-routes.js";
import { routeHandler } from "../../shared/http/middleware.js";

export const handler = routeHandler({ ...configRoutes, ...consumerConfigRoutes });
