/**
 * The tenant's webhook (api-config): read it (never its secret), create or replace it (the signing secret is returned
 * once), remove it. Thin: the operations and schemas live in shared/webhooks.
 */
import { z } from "zod";
import { type HttpRoute, httpRoute, ok } from "../../http/middleware.js";
import { getRuntime } from "../../runtime.js";
import {
  deleteWebhook,
  getWebhook,
  putWebhook,
  webhookBodySchema,
  webhookCreatedSchema,
  webhookWireSchema,
} from "../../webhooks/webhooks.js";

const webhookDeps = () => {
  const { doc, config, clock, keyCipher } = getRuntime();
  return { doc, tableName: config.TABLE_NAME, clock, cipher: keyCipher, targets: config.WEBHOOK_TARGETS };
};

export const webhookRoutes: Record<string, HttpRoute> = {
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
};
