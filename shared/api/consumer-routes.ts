/**
 * Issue 13's routes (DESIGN.md "REST API", "Events, webhooks, lifecycle"): the change feed (api-query), connection
 * pause/frequency, webhooks and tenant erasure (api-config). Thin: services beside this file do the work.
 */

import { z } from "zod";
import { accepted, type HttpRoute, httpRoute, ok } from "../http/middleware.js";
import {
  createSqsEraseQueue,
  eraseBodySchema,
  erasureSchema,
  getErasure,
  requestErasure,
} from "../lifecycle/erasure.js";
import { schedulePurges } from "../lifecycle/purge.js";
import { getRuntime } from "../runtime.js";
import {
  deleteWebhook,
  getWebhook,
  putWebhook,
  webhookBodySchema,
  webhookCreatedSchema,
  webhookWireSchema,
} from "../webhooks/webhooks.js";
import { connectionPathSchema } from "./config-service.js";
import { connectionPatchSchema, connectionSettingsResultSchema, patchConnection } from "./connection-settings.js";
import { changesQuerySchema, changesResultSchema, getChanges } from "./query/changes.js";
import { integrationPathSchema } from "./query/schemas.js";

const webhookDeps = () => {
  const { doc, config, clock, secrets } = getRuntime();
  return {
    doc,
    tableName: config.TABLE_NAME,
    clock,
    secretKey: async () => (await secrets()).cursorSecret,
    targets: config.WEBHOOK_TARGETS,
  };
};

const erasureDeps = () => {
  const { doc, config, clock, sqs } = getRuntime();
  return {
    doc,
    tableName: config.TABLE_NAME,
    clock,
    queue: config.QUEUE_URL ? createSqsEraseQueue(sqs, config.QUEUE_URL) : undefined,
  };
};

/**
 * After a revoke or a source delete (which paused the partitions): their data is purged REVOKED_RETENTION_DAYS later,
 * by purge messages the planner sends when that time comes (shared/lifecycle/purge.ts).
 */
export async function purgeLater<T>(
  done: Promise<T>,
  scope: { tenantId: string; integrationId: string; connectionId?: string; dataType?: string },
): Promise<T> {
  const result = await done;
  const { repos, clock, config } = getRuntime();
  await schedulePurges(repos, scope, clock.now() + config.REVOKED_RETENTION_DAYS * 86_400_000);
  return result;
}

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
  getWebhook: httpRoute({ scope: "admin", response: { data: webhookWireSchema } }, async ({ tenantId }) =>
    ok(await getWebhook(webhookDeps(), tenantId)),
  ),
  putWebhook: httpRoute(
    { scope: "admin", body: webhookBodySchema, response: { data: webhookCreatedSchema } },
    async ({ tenantId, body }) => ok(await putWebhook(webhookDeps(), tenantId, body)),
  ),
  deleteWebhook: httpRoute(
    { scope: "admin", response: { data: z.object({ deleted: z.literal(true) }) } },
    async ({ tenantId }) => ok(await deleteWebhook(webhookDeps(), tenantId)),
  ),
  eraseTenant: httpRoute(
    { scope: "admin", body: eraseBodySchema, response: { data: erasureSchema, status: 202 } },
    async ({ tenantId, body }) => accepted(await requestErasure(erasureDeps(), tenantId, body.confirm)),
  ),
  getTenantErasure: httpRoute({ scope: "admin", response: { data: erasureSchema } }, async ({ tenantId }) =>
    ok(await getErasure(erasureDeps(), tenantId)),
  ),
};
