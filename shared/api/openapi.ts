/**
 * The OpenAPI 3.1 document, generated from the route table (shared/http/routes.ts) and the zod schemas each route
 * validates with (zod 4 `z.toJSONSchema`), so the documentation cannot drift from validation. A route whose schemas
 * are not given still appears, with its path parameters read from the template and the generic envelope.
 */
import { z } from "zod";
import { errorEnvelopeSchema, paginationMetaSchema } from "../http/envelope.js";
import type { HttpRoute, RouteResponseDoc } from "../http/middleware.js";
import { ROUTES, type RouteDefinition } from "../http/routes.js";
import { CONDITIONAL_READS } from "./conditional.js";

type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, unknown>;
}

const ERROR_REF = { $ref: "#/components/schemas/ErrorEnvelope" };

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const out = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as JsonSchema;
  delete out.$schema;
  return out;
}

function errorResponse(description: string) {
  return { description, content: { "application/json": { schema: ERROR_REF } } };
}

function successSchema(doc: RouteResponseDoc | undefined): JsonSchema {
  const data = doc?.data ? jsonSchema(doc.data, "output") : {};
  if (doc?.raw) return data;
  const properties: JsonSchema = { success: { const: true }, data };
  if (doc?.paginated) properties.pagination = { $ref: "#/components/schemas/Pagination" };
  return { type: "object", properties, required: ["success", "data"] };
}

function parameters(definition: RouteDefinition, route: HttpRoute | undefined): JsonSchema[] {
  const params: JsonSchema[] = [];
  const pathSchema = route?.schemas.path ? jsonSchema(route.schemas.path, "input") : undefined;
  const pathProps = (pathSchema?.properties ?? {}) as Record<string, JsonSchema>;
  for (const match of definition.path.matchAll(/\{([^}]+)\}/g)) {
    const name = match[1] ?? "";
    params.push({ name, in: "path", required: true, schema: pathProps[name] ?? { type: "string" } });
  }
  if (route?.schemas.query) {
    const query = jsonSchema(route.schemas.query, "input");
    const required = new Set((query.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((query.properties ?? {}) as Record<string, JsonSchema>)) {
      const param: JsonSchema = { name, in: "query", required: required.has(name), schema };
      if (typeof schema.description === "string") param.description = schema.description;
      params.push(param);
    }
  }
  return params;
}

/** Conditional reads answer 304; the change feed 410 past its retention (DESIGN.md "REST API"). */
function addConsumerResponses(definition: RouteDefinition, responses: Record<string, unknown>): void {
  if (definition.operationId in CONDITIONAL_READS) {
    responses["304"] = {
      description: "Not modified: If-None-Match named the current ETag (read only partition rows)",
      headers: { ETag: { schema: { type: "string" } } },
    };
  }
  if (definition.operationId === "getChanges") {
    responses["410"] = errorResponse("`since` is older than CHANGE_RETENTION_DAYS (CURSOR_EXPIRED): resynchronise");
  }
  if (definition.method === "PATCH" || definition.operationId === "eraseTenant") {
    responses["409"] = errorResponse("The resource is not in a state that allows this (CONFLICT)");
  }
}

/** Builds the document from ROUTES and the routes' schemas (keyed by operationId). */
export function buildOpenApiDocument(routes: Record<string, HttpRoute>): OpenApiDocument {
  const paths: OpenApiDocument["paths"] = {};
  for (const definition of ROUTES) {
    const route = routes[definition.operationId];
    const isPublic = definition.auth === "public";
    const status = String(route?.schemas.response?.status ?? 200);
    const responses: Record<string, unknown> = {
      [status]: {
        description: definition.summary,
        content: { "application/json": { schema: successSchema(route?.schemas.response) } },
      },
      "400": errorResponse("Invalid request: error.details names the field (VALIDATION_ERROR, INVALID_REQUEST)"),
      "404": errorResponse("Not found (NOT_FOUND, INTEGRATION_NOT_FOUND)"),
      "500": errorResponse("Internal error"),
    };
    if (!isPublic) {
      responses["401"] = errorResponse("Missing, unknown or revoked API key (INVALID_API_KEY)");
      responses["403"] = errorResponse(`The API key lacks the '${definition.auth}' scope (FORBIDDEN)`);
      responses["429"] = errorResponse("Too many requests (RATE_LIMITED); see the Retry-After header");
    }
    addConsumerResponses(definition, responses);
    const operation: JsonSchema = {
      operationId: definition.operationId,
      summary: definition.summary,
      tags: [definition.function],
      parameters: parameters(definition, route),
      responses,
      security: isPublic ? [] : [{ apiKey: [] }],
      "x-required-scope": definition.auth,
    };
    if (definition.operationId === "putGatewayCredentials") {
      responses["400"] = errorResponse(
        "Invalid request, or the gateway refused the key (INVALID_GATEWAY_KEY): nothing was stored",
      );
      responses["503"] = errorResponse("The gateway could not be reached to verify the key (GATEWAY_UNAVAILABLE)");
    }
    if (route?.schemas.body) {
      operation.requestBody = {
        required: definition.method === "PUT" || definition.method === "PATCH",
        content: { "application/json": { schema: jsonSchema(route.schemas.body, "input") } },
      };
      responses["413"] = errorResponse("Request body over 256 KB (PAYLOAD_TOO_LARGE)");
    }
    paths[definition.path] = { ...paths[definition.path], [definition.method.toLowerCase()]: operation };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Reference Data Sync",
      version: "1.0.0",
      description:
        "Tenant-isolated cache of slow-changing reference data (users, channels, repositories) for AI agents: " +
        "list, name lookup, AI context, sync trigger and status, source and connection configuration. Every response " +
        "uses Waygate's envelope; errors carry suggestedResolution.",
    },
    servers: [{ url: "/" }],
    paths,
    components: {
      securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "Authorization: Bearer <api key>" } },
      schemas: {
        ErrorEnvelope: jsonSchema(errorEnvelopeSchema, "output"),
        Pagination: jsonSchema(paginationMetaSchema, "output"),
      },
    },
  };
}
