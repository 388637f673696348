/**
 * The api-config routes of Waygate itself: the tenant's gateway credentials, discovery, and extensions of discovered
 * sources. Thin: the services live in shared/credentials and discovery-service.ts.
 */
import { z } from "zod";
import {
  credentialsBodySchema,
  credentialsWireSchema,
  deleteCredentials,
  getCredentials,
  saveCredentials,
} from "../credentials/credentials-service.js";
import { accepted, type HttpRoute, httpRoute, ok } from "../http/middleware.js";
import { getRuntime } from "../runtime.js";
import { sourcePathSchema, sourceWireSchema } from "./config-service.js";
import {
  discoveryWireSchema,
  extensionsBodySchema,
  getDiscovery,
  patchSourceExtensions,
  postDiscovery,
} from "./discovery-service.js";

const deps = () => {
  const { repos, queue, clock, log, keyCipher, config } = getRuntime();
  return { repos, queue, clock, log, cipher: keyCipher, gatewayUrl: config.GATEWAY_URL };
};

export const gatewayRoutes: Record<string, HttpRoute> = {
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
  getDiscovery: httpRoute({ scope: "admin", response: { data: discoveryWireSchema } }, async ({ tenantId }) =>
    ok(await getDiscovery(deps(), tenantId)),
  ),
  runDiscovery: httpRoute(
    {
      scope: "admin",
      response: {
        data: z.object({ status: z.enum(["queued", "running"]), deduplicated: z.boolean() }),
        status: 202,
      },
    },
    async ({ tenantId }) => accepted(await postDiscovery(deps(), tenantId)),
  ),
  patchSource: httpRoute(
    { scope: "admin", path: sourcePathSchema, body: extensionsBodySchema, response: { data: sourceWireSchema } },
    async ({ tenantId, path, body }) => ok(await patchSourceExtensions(deps(), { tenantId, ...path }, body)),
  ),
};
