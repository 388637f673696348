/**
 * The discovery routes (api-config): the tenant's last discovery report, a run on demand, and the extensions of a
 * discovered source. Thin: the operations live beside this file.
 */
import { accepted, type HttpRoute, httpRoute, ok } from "../../http/middleware.js";
import { getRuntime } from "../../runtime.js";
import { sourceWireSchema } from "../config/schemas.js";
import { dataTypePathSchema } from "../paths.js";
import { getDiscovery, patchSourceExtensions, postDiscovery } from "./operations.js";
import { discoveryRunSchema, discoveryWireSchema, extensionsBodySchema } from "./schemas.js";

const deps = () => {
  const { repos, queue, clock, log } = getRuntime();
  return { repos, queue, clock, log };
};

export const discoveryRoutes: Record<string, HttpRoute> = {
  getDiscovery: httpRoute({ scope: "admin", response: { data: discoveryWireSchema } }, async ({ tenantId }) =>
    ok(await getDiscovery(deps(), tenantId)),
  ),
  runDiscovery: httpRoute(
    { scope: "admin", response: { data: discoveryRunSchema, status: 202 } },
    async ({ tenantId }) => accepted(await postDiscovery(deps(), tenantId)),
  ),
  patchSource: httpRoute(
    { scope: "admin", path: dataTypePathSchema, body: extensionsBodySchema, response: { data: sourceWireSchema } },
    async ({ tenantId, path, body }) => ok(await patchSourceExtensions(deps(), { tenantId, ...path }, body)),
  ),
};
