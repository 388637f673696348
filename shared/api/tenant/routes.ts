/**
 * Tenant erasure (api-config): erase every row of the tenant, its API keys and credentials (asynchronous), and its
 * progress. Thin: the operations and schemas live in shared/lifecycle/erasure.ts.
 */
import { accepted, type HttpRoute, httpRoute, ok } from "../../http/middleware.js";
import {
  createSqsEraseQueue,
  eraseBodySchema,
  erasureSchema,
  getErasure,
  requestErasure,
} from "../../lifecycle/erasure.js";
import { getRuntime } from "../../runtime.js";

const erasureDeps = () => {
  const { doc, config, clock, sqs } = getRuntime();
  return {
    doc,
    tableName: config.TABLE_NAME,
    clock,
    queue: config.QUEUE_URL ? createSqsEraseQueue(sqs, config.QUEUE_URL) : undefined,
  };
};

export const tenantRoutes: Record<string, HttpRoute> = {
  eraseTenant: httpRoute(
    { scope: "admin", body: eraseBodySchema, response: { data: erasureSchema, status: 202 } },
    async ({ tenantId, body }) => accepted(await requestErasure(erasureDeps(), tenantId, body.confirm)),
  ),
  getTenantErasure: httpRoute({ scope: "admin", response: { data: erasureSchema } }, async ({ tenantId }) =>
    ok(await getErasure(erasureDeps(), tenantId)),
  ),
};
