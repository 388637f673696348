/** The api-query Lambda: health, list / by type, lookup and AI context (shared/api/query/routes.ts). */

import { queryRoutes } from "../../shared/api/query/routes.js";
import { routeHandler } from "../../shared/http/middleware.js";

export const handler = routeHandler(queryRoutes);
