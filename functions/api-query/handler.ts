/** The api-query Lambda: health, list / by type, lookup, AI context and the change feed (shared/api/query/routes.ts). */

import { withConditionalReads } from "../../shared/api/conditional.js";
import { queryRoutes } from "../../shared/api/query/routes.js";
import { routeHandler } from "../../shared/http/middleware.js";

export const handler = routeHandler(withConditionalReads(queryRoutes));
