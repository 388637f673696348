/**
 * Issue 13's routes (DESIGN.md "REST API", "Events, webhooks, lifecycle"): the change feed (api-query), connection
 * pause/frequency, webhooks and tenant erasure (api-config). Thin: services beside this file do the work.
 */

import { type HttpRoute, httpRoute, ok } from "../http/middleware.js";
import { getRuntime } from "../runtime.js";
import { connectionPathSchema } from "./config-service.js";
import { connectionPatchSchema, connectionSettingsResultSchema, patchConnection } from "./connection-settings.js";
import { changesQuerySchema, changesResultSchema, getChanges } from "./query/changes.js";
import { integrationPathSchema } from "./query/schemas.js";

/** Routes served by api-query. */
export const changeRoutes: Record<string, HttpRoute> = {
  getChanges: httpRoute(
    {
      scope: "read",
      path: integrationPathSchema,
      query: changesQuerySchema,
      response: { data: changesResultSchema, paginated: true },
    },
    async ({ tenantId, path, query }) => {
      const { repos, clock, secrets, config } = getRuntime();
      const { cursorSecret } = await secrets();
      const result = await getChanges(
        { repos, clock, cursorSecret, retentionDays: config.CHANGE_RETENTION_DAYS },
        { tenantId, integrationId: path.integrationId, query },
      );
      return ok(result.data, result.pagination);
    },
  ),
};

/** Routes served by api-config. */
export const consumerConfigRoutes: Record<string, HttpRoute> = {
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
