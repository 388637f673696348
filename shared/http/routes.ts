/**
 * Every route of the REST API, declared once. The CDK RestApi and the local HTTP server are both built from this
 * table, so they cannot drift. Paths use API Gateway's `{param}` syntax.
 */
import type { ApiKeyScope } from "../domain/entities.js";

/** The API Lambdas; each serves the routes that name it. */
export const API_FUNCTIONS = ["api-query", "api-sync", "api-config"] as const;
export type ApiFunctionName = (typeof API_FUNCTIONS)[number];

export type HttpMethod = "GET" | "PUT" | "POST" | "PATCH" | "DELETE";

export interface RouteDefinition {
  method: HttpMethod;
  path: string;
  function: ApiFunctionName;
  /** The API-key scope required, or `public` for routes without the authorizer. */
  auth: ApiKeyScope | "public";
  operationId: string;
  summary: string;
}

export const API_BASE_PATH = "/api/v1";
const ref = `${API_BASE_PATH}/integrations/{integrationId}/reference-data`;
const conn = `${API_BASE_PATH}/integrations/{integrationId}/connections`;

export const ROUTES: readonly RouteDefinition[] = [
  {
    method: "GET",
    path: `${API_BASE_PATH}/health`,
    function: "api-query",
    auth: "public",
    operationId: "health",
    summary: "Liveness check",
  },
  {
    method: "GET",
    path: `${API_BASE_PATH}/openapi.json`,
    function: "api-config",
    auth: "public",
    operationId: "openapi",
    summary: "This API's OpenAPI document",
  },
  {
    method: "GET",
    path: `${API_BASE_PATH}/integrations`,
    function: "api-query",
    auth: "read",
    operationId: "listIntegrations",
    summary: "The tenant's configured integrations, each with its slug (the admin console lists them)",
  },
  {
    method: "GET",
    path: ref,
    function: "api-query",
    auth: "read",
    operationId: "listReferenceData",
    summary: "List cached items, or per-type counts with summary=true",
  },
  {
    method: "GET",
    path: `${ref}/context`,
    function: "api-query",
    auth: "read",
    operationId: "getContext",
    summary: "AI preamble context within a token budget",
  },
  {
    method: "GET",
    path: `${ref}/{dataType}`,
    function: "api-query",
    auth: "read",
    operationId: "getReferenceDataByType",
    summary: "One data type: its items (list) or its object",
  },
  {
    method: "GET",
    path: `${ref}/{dataType}/lookup`,
    function: "api-query",
    auth: "read",
    operationId: "lookup",
    summary: "Resolve a name to IDs",
  },
  {
    method: "POST",
    path: `${ref}/sync`,
    function: "api-sync",
    auth: "sync",
    operationId: "triggerSync",
    summary: "Trigger syncs of matching partitions",
  },
  {
    method: "GET",
    path: `${ref}/sync/status`,
    function: "api-sync",
    auth: "read",
    operationId: "getSyncStatus",
    summary: "Partition states and job history",
  },
  {
    method: "GET",
    path: `${ref}/sources`,
    function: "api-config",
    auth: "admin",
    operationId: "listSources",
    summary: "List sources",
  },
  {
    method: "GET",
    path: `${ref}/sources/{dataType}`,
    function: "api-config",
    auth: "admin",
    operationId: "getSource",
    summary: "Get one source",
  },
  {
    method: "PUT",
    path: `${ref}/sources/{dataType}`,
    function: "api-config",
    auth: "admin",
    operationId: "putSource",
    summary: "Create or replace a source",
  },
  {
    method: "PATCH",
    path: `${ref}/sources/{dataType}`,
    function: "api-config",
    auth: "admin",
    operationId: "patchSource",
    summary: "Add this service's own fields (extensions) to a discovered source",
  },
  {
    method: "DELETE",
    path: `${ref}/sources/{dataType}`,
    function: "api-config",
    auth: "admin",
    operationId: "deleteSource",
    summary: "Remove a source; its partitions stop syncing",
  },
  {
    method: "GET",
    path: conn,
    function: "api-config",
    auth: "admin",
    operationId: "listConnections",
    summary: "List connections",
  },
  {
    method: "PUT",
    path: `${conn}/{connectionId}`,
    function: "api-config",
    auth: "admin",
    operationId: "enrollConnection",
    summary: "Enroll a connection: its partitions become due now",
  },
  {
    method: "DELETE",
    path: `${conn}/{connectionId}`,
    function: "api-config",
    auth: "admin",
    operationId: "revokeConnection",
    summary: "Revoke a connection: stop syncing and serving its data",
  },
  {
    method: "GET",
    path: `${ref}/changes`,
    function: "api-query",
    auth: "read",
    operationId: "getChanges",
    summary: "Change feed: every item change since a cursor or time, in commit order",
  },
  {
    method: "PATCH",
    path: `${conn}/{connectionId}`,
    function: "api-config",
    auth: "admin",
    operationId: "patchConnection",
    summary: "Pause or resume a connection's syncs, or override its sources' TTL",
  },
  {
    method: "GET",
    path: `${API_BASE_PATH}/webhooks`,
    function: "api-config",
    auth: "admin",
    operationId: "getWebhook",
    summary: "The tenant's webhook (never its secret)",
  },
  {
    method: "PUT",
    path: `${API_BASE_PATH}/webhooks`,
    function: "api-config",
    auth: "admin",
    operationId: "putWebhook",
    summary: "Create or replace the tenant's webhook; returns the signing secret once",
  },
  {
    method: "DELETE",
    path: `${API_BASE_PATH}/webhooks`,
    function: "api-config",
    auth: "admin",
    operationId: "deleteWebhook",
    summary: "Remove the tenant's webhook",
  },
  {
    method: "DELETE",
    path: `${API_BASE_PATH}/tenant`,
    function: "api-config",
    auth: "admin",
    operationId: "eraseTenant",
    summary: "Erase every row of the tenant, its API keys and credentials (asynchronous)",
  },
  {
    method: "GET",
    path: `${API_BASE_PATH}/tenant`,
    function: "api-config",
    auth: "admin",
    operationId: "getTenantErasure",
    summary: "Progress of the tenant's erasure",
  },
  {
    method: "GET",
    path: `${API_BASE_PATH}/discovery`,
    function: "api-config",
    auth: "admin",
    operationId: "getDiscovery",
    summary: "The last discovery report",
  },
  {
    method: "POST",
    path: `${API_BASE_PATH}/discovery`,
    function: "api-config",
    auth: "admin",
    operationId: "runDiscovery",
    summary: "Run discovery now (deduplicated while one is queued or running)",
  },
  {
    method: "PUT",
    path: `${API_BASE_PATH}/gateway/credentials`,
    function: "api-config",
    auth: "admin",
    operationId: "putGatewayCredentials",
    summary: "Save the tenant's Waygate API key (verified first, stored encrypted, never returned)",
  },
  {
    method: "GET",
    path: `${API_BASE_PATH}/gateway/credentials`,
    function: "api-config",
    auth: "admin",
    operationId: "getGatewayCredentials",
    summary: "The stored Waygate key's hint and status",
  },
  {
    method: "DELETE",
    path: `${API_BASE_PATH}/gateway/credentials`,
    function: "api-config",
    auth: "admin",
    operationId: "deleteGatewayCredentials",
    summary: "Remove the Waygate key; the tenant's partitions pause",
  },
];

/** The non-API Lambdas. */
export const WORKER_FUNCTIONS = ["planner", "sync-worker", "authorizer", "webhook-deliverer"] as const;

/**
 * The admin console (DESIGN.md, "Admin console"): a static page and its files, outside `/api/v1`, public, served by
 * their own small function that can read nothing. Kept apart from ROUTES because it is not part of the JSON API (no
 * envelope, no OpenAPI operation); the CDK RestApi and the local HTTP server each add these two routes.
 */
export const CONSOLE_FUNCTION = "console" as const;
export const CONSOLE_PATH = "/console";
export const CONSOLE_ROUTES = [
  { method: "GET", path: CONSOLE_PATH },
  { method: "GET", path: `${CONSOLE_PATH}/{asset}` },
] as const satisfies readonly { method: HttpMethod; path: string }[];

/** The console route a path belongs to (its template and `asset` parameter), or undefined. */
export function matchConsoleRoute(path: string): { template: string; asset?: string } | undefined {
  if (path === CONSOLE_PATH || path === `${CONSOLE_PATH}/`) return { template: CONSOLE_PATH };
  const asset = path.startsWith(`${CONSOLE_PATH}/`) ? path.slice(CONSOLE_PATH.length + 1) : "";
  if (asset === "" || asset.includes("/")) return undefined;
  return { template: `${CONSOLE_PATH}/{asset}`, asset };
}

/** The console's URL beside an API base URL (`http://127.0.0.1:3000/api/v1` → `http://127.0.0.1:3000/console`). */
export function consoleUrlOf(apiUrl: string): string {
  return `${apiUrl.endsWith(API_BASE_PATH) ? apiUrl.slice(0, -API_BASE_PATH.length) : apiUrl}${CONSOLE_PATH}`;
}
