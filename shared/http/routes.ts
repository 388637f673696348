/**
 * Every route of the REST API, declared once. The CDK RestApi and the local HTTP server are both built from this
 * table, so they cannot drift. Paths use API Gateway's `{param}` syntax.
 */
import type { ApiKeyScope } from "../domain/entities.js";

/** The API Lambdas; each serves the routes that name it. */
export const API_FUNCTIONS = ["api-query", "api-sync", "api-config"] as const;
export type ApiFunctionName = (typeof API_FUNCTIONS)[number];

export type HttpMethod = "GET" | "PUT" | "POST" | "DELETE";

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
];

/** The non-API Lambdas. */
export const WORKER_FUNCTIONS = ["planner", "sync-worker", "authorizer"] as const;
