/**
 * ETag / 304 for every data GET (DESIGN.md "Conditional reads"), applied to a Lambda's routes in one place: before a
 * route reads anything, the partitions it will read are listed (one Query of partition rows); their versions and the
 * query make the ETag. A matching `If-None-Match` gets 304 right there; otherwise the route runs and its answer
 * carries the ETag. The partitions are read before the data, so an ETag never names data newer than the body.
 */
import type { ApiKeyScope } from "../domain/entities.js";
import { etagOf, matchesIfNoneMatch } from "../http/etag.js";
import { headerValue } from "../http/headers.js";
import { authenticate, type HttpRoute } from "../http/middleware.js";
import { getRuntime } from "../runtime.js";

type Params = Record<string, string | undefined>;
type ScopeOf = (path: Params, query: Params) => { connectionId?: string; dataType?: string };

const connectionAndType: ScopeOf = (_path, query) =>
  defined({ connectionId: query.connectionId, dataType: query.dataType });
const connectionAndPathType: ScopeOf = (path, query) =>
  defined({ connectionId: query.connectionId, dataType: path.dataType });

/** The data GETs, by operationId, and which partitions each reads. */
export const CONDITIONAL_READS: Record<string, ScopeOf> = {
  listReferenceData: connectionAndType,
  getReferenceDataByType: connectionAndPathType,
  lookup: connectionAndPathType,
  getContext: (_path, query) => defined({ connectionId: query.connectionId }),
  getSyncStatus: connectionAndType,
  getChanges: connectionAndType,
};

/** The routes with the data GETs among them made conditional. */
export function withConditionalReads(routes: Record<string, HttpRoute>): Record<string, HttpRoute> {
  const wrapped: Record<string, HttpRoute> = {};
  for (const [operationId, route] of Object.entries(routes)) {
    const scopeOf = CONDITIONAL_READS[operationId];
    wrapped[operationId] = scopeOf && route.scope !== "public" ? conditional(operationId, route, scopeOf) : route;
  }
  return wrapped;
}

function conditional(operationId: string, route: HttpRoute, scopeOf: ScopeOf): HttpRoute {
  return {
    scope: route.scope,
    schemas: route.schemas,
    async run(request) {
      const { event, pathParameters } = request;
      const caller = authenticate(event, route.scope as ApiKeyScope);
      const query: Params = event.queryStringParameters ?? {};
      const integrationId = pathParameters.integrationId ?? "";
      const partitions = await getRuntime().repos.partitions.listByIntegration(
        caller.tenantId,
        integrationId,
        scopeOf(pathParameters, query),
      );
      const etag = etagOf(partitions, { operationId, ...pathParameters, ...query });
      if (matchesIfNoneMatch(headerValue(event.headers, "if-none-match"), etag)) {
        return { status: 304, notModified: true, headers: { ETag: etag } };
      }
      const result = await route.run(request);
      if ("notModified" in result) return result;
      return { ...result, headers: { ...result.headers, ETag: etag } };
    },
  };
}

function defined<T extends Record<string, string | undefined>>(value: T): { [K in keyof T]?: string } {
  const out: { [K in keyof T]?: string } = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined && v !== "") out[key as keyof T] = v;
  return out;
}
