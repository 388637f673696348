/**
 * The tenant's Waygate API key (api-config): save (verified first, stored encrypted, never returned), read its hint
 * and status, remove it. Thin: the operations and schemas live in shared/credentials.
 */
import { z } from "zod";
import {
  credentialsBodySchema,
  credentialsWireSchema,
  deleteCredentials,
  getCredentials,
  saveCredentials,
} from "../../credentials/credentials-service.js";
import { type HttpRoute, httpRoute, ok } from "../../http/middleware.js";
import { getRuntime } from "../../runtime.js";

const deps = () => {
  const { repos, queue, clock, log, keyCipher, config } = getRuntime();
  return { repos, queue, clock, log, cipher: keyCipher, gatewayUrl: config.GATEWAY_URL };
};

export const credentialsRoutes: Record<string, HttpRoute> = {
  putGatewayCredentials: httpRoute(
    { scope: "admin", body: credentialsBodySchema, response: { data: credentialsWireSchema } },
    async ({ tenantId, body }) => ok(await saveCredentials(deps(), tenantId, body)),
  ),
  getGatewayCredentials: httpRoute(
    { scope: "admin", response: { data: credentialsWireSchema } },
    async ({ tenantId }) => ok(await getCredentials(deps(), tenantId)),
  ),
  deleteGatewayCredentials: httpRoute(
    {
      scope: "admin",
      response: { data: z.object({ deleted: z.literal(true), paused: z.number().int() }) },
    },
    async ({ tenantId }) => ok(await deleteCredentials(deps(), tenantId)),
  ),
};
