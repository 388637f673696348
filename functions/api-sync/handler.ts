/** The api-sync Lambda: sync trigger and status (shared/api/sync/routes.ts). */

import { withConditionalReads } from "../../shared/api/conditional.js";
import { syncRoutes } from "../../shared/api/sync/routes.js";
import { routeHandler } from "../../shared/http/middleware.js";

export const handler = routeHandler(withConditionalReads(syncRoutes));
