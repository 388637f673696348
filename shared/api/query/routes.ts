/**
 * The routes of the api-query Lambda: health, list / by type, lookup, context and the change feed. Thin: the
 * runtime's dependencies go to the operations beside this file.
 */
import { z } from "zod";
import { type HttpRoute, httpRoute, ok } from "../../http/middleware.js";
import { getRuntime } from "../../runtime.js";
import { dataTypePathSchema, integrationPathSchema } from "../paths.js";
import { changesQuerySchema, changesResultSchema, getChanges } from "./changes.js";
import { getContext } from "./context.js";
import { integrationWireSchema, listIntegrations } from "./integrations.js";
import { getReferenceDataByType, listReferenceData } from "./list.js";
import { lookupReferenceData } from "./lookup.js";
import {
  byTypeQuerySchema,
  byTypeResultSchema,
  contextQuerySchema,
  contextResultSchema,
  healthResultSchema,
  listQuerySchema,
  listResultSchema,
  lookupQuerySchema,
  lookupResultSchema,
} from "./schemas.js";

export const queryRoutes: Record<string, HttpRoute> = {
  health: httpRoute({ scope: "public", response: { data: healthResultSchema } }, async () => {
    const { clock } = getRuntime();
    return ok({ status: "ok", time: new Date(clock.now()).toISOString() });
  }),
  listReferenceData: httpRoute(
    {
      scope: "read",
      path: integrationPathSchema,
      query: listQuerySchema,
      response: { data: listResultSchema, paginated: true },
    },
    async ({ tenantId, path, query }) => {
      const { repos, clock, secrets } = getRuntime();
      const { cursorKeys } = await secrets();
      const result = await listReferenceData(
        { repos, clock, cursorKeys },
        { tenantId, integrationId: path.integrationId, query },
      );
      return ok(result.data, result.pagination);
    },
  ),
  getReferenceDataByType: httpRoute(
    {
      scope: "read",
      path: dataTypePathSchema,
      query: byTypeQuerySchema,
      response: { data: byTypeResultSchema, paginated: true },
    },
    async ({ tenantId, path, query }) => {
      const { repos, clock, secrets } = getRuntime();
      const { cursorKeys } = await secrets();
      const result = await getReferenceDataByType(
        { repos, clock, cursorKeys },
        { tenantId, integrationId: path.integrationId, dataType: path.dataType, query },
      );
      return ok(result.data, result.pagination);
    },
  ),
  lookup: httpRoute(
    { scope: "read", path: dataTypePathSchema, query: lookupQuerySchema, response: { data: lookupResultSchema } },
    async ({ tenantId, path, query }) => {
      const { repos, clock } = getRuntime();
      return ok(
        await lookupReferenceData(
          { repos, clock },
          { tenantId, integrationId: path.integrationId, dataType: path.dataType, query },
        ),
      );
    },
  ),
  listIntegrations: httpRoute(
    { scope: "read", response: { data: z.array(integrationWireSchema) } },
    async ({ tenantId }) => ok(await listIntegrations({ repos: getRuntime().repos }, tenantId)),
  ),
  getContext: httpRoute(
    { scope: "read", path: integrationPathSchema, query: contextQuerySchema, response: { data: contextResultSchema } },
    async ({ tenantId, path, query }) => {
      const { repos, clock } = getRuntime();
      return ok(await getContext({ repos, clock }, { tenantId, integrationId: path.integrationId, query }));
    },
  ),
  getChanges: httpRoute(
    {
      scope: "read",
      path: integrationPathSchema,
      query: changesQuerySchema,
      response: { data: changesResultSchema, paginated: true },
    },
    async ({ tenantId, path, query }) => {
      const { repos, clock, secrets, config } = getRuntime();
      const { cursorKeys } = await secrets();
      const result = await getChanges(
        { repos, clock, cursorKeys, retentionDays: config.CHANGE_RETENTION_DAYS },
        { tenantId, integrationId: path.integrationId, query },
      );
      return ok(result.data, result.pagination);
    },
  ),
};
