/**
 * The routes of the api-sync Lambda: POST …/reference-data/sync and GET …/reference-data/sync/status. Thin: the
 * runtime's dependencies go to the operations beside this file.
 */
import { accepted, type HttpRoute, httpRoute, ok } from "../../http/middleware.js";
import { getRuntime } from "../../runtime.js";
import { integrationPathSchema } from "../paths.js";
import { statusQuerySchema, statusResultSchema, triggerBodySchema, triggerResultSchema } from "./schemas.js";
import { getSyncStatus } from "./status.js";
import { triggerSync } from "./trigger.js";

export const syncRoutes: Record<string, HttpRoute> = {
  triggerSync: httpRoute(
    {
      scope: "sync",
      path: integrationPathSchema,
      body: triggerBodySchema,
      response: { data: triggerResultSchema, status: 202 },
    },
    async ({ tenantId, path, body, log }) => {
      const { repos, queue, clock } = getRuntime();
      const result = await triggerSync(
        { repos, queue, clock, log },
        { tenantId, integrationId: path.integrationId, body },
      );
      return accepted(result);
    },
  ),
  getSyncStatus: httpRoute(
    {
      scope: "read",
      path: integrationPathSchema,
      query: statusQuerySchema,
      response: { data: statusResultSchema, paginated: true },
    },
    async ({ tenantId, path, query }) => {
      const { repos, clock, secrets } = getRuntime();
      const { cursorKeys } = await secrets();
      const result = await getSyncStatus(
        { repos, clock, cursorKeys },
        { tenantId, integrationId: path.integrationId, query },
      );
      return ok(result.data, result.pagination);
    },
  ),
};
