/** The api-sync Lambda: sync trigger and status (shared/api/sync-routes.ts). */

import { syncRoutes } from "../../shared/api/sync-routes.js";
import { routeHandler } from "../../shared/http/middleware.js";

export const handler = routeHandler(syncRoutes);
