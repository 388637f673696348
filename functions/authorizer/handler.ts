/**
 * API Gateway REQUEST authorizer: `Authorization: Bearer <key>` → the key's tenant and scopes. The policy allows the
 * whole API (`{apiId}/{stage}/*`), because API Gateway caches the result per key for 60 s across every route; the
 * scope a route needs is checked by the route itself (shared/http/middleware.ts). A missing, malformed, unknown or
 * revoked key is "Unauthorized" (401, customised to INVALID_API_KEY); a storage failure is a 500, never a 401.
 * The local server calls `authorize(headers)` directly.
 */
import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventHeaders,
} from "aws-lambda";
import { loadConfig } from "../../shared/config.js";
import { createLogger, type Logger } from "../../shared/log.js";
import { DynamoApiKeyRepository } from "../../shared/storage/api-key-repository.js";
import { createDocumentClient } from "../../shared/storage/client.js";
import type { ApiKeyRepository } from "../../shared/storage/ports.js";

// Only DynamoDB, not the whole runtime (SQS, Secrets Manager): the authorizer sits in front of every cold request.
let deps: { apiKeys: ApiKeyRepository; log: Logger } | undefined;
function authorizerDeps(): { apiKeys: ApiKeyRepository; log: Logger } {
  if (!deps) {
    const config = loadConfig({ ...process.env });
    const doc = createDocumentClient({ endpoint: config.DYNAMODB_ENDPOINT, region: config.AWS_REGION });
    deps = {
      apiKeys: new DynamoApiKeyRepository(doc, config.TABLE_NAME),
      log: createLogger({ service: "reference-data-sync", component: "authorizer" }, config.LOG_LEVEL),
    };
  }
  return deps;
}

/** Forgets the authorizer's clients so the next call re-reads process.env (tests, the local stack). */
export function resetAuthorizer(): void {
  deps = undefined;
}

/** What the authorizer puts in `requestContext.authorizer`: context values must be strings. */
export interface AuthorizerContext {
  tenantId: string;
  keyId: string;
  /** Comma-separated, e.g. `read,sync`. */
  scopes: string;
}

/** `Bearer <token>` with one token of printable, non-space characters; anything else is malformed. */
const BEARER = /^Bearer +([\x21-\x7e]{1,512})$/i;

/** The token of an `Authorization: Bearer <token>` header (any header case), or undefined. */
export function bearerToken(headers: APIGatewayRequestAuthorizerEventHeaders | null | undefined): string | undefined {
  if (!headers) return undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== "authorization" || value === undefined) continue;
    return BEARER.exec(value.trim())?.[1];
  }
  return undefined;
}

/**
 * Resolves the caller of a request from its headers; undefined when the key is missing, malformed, unknown or revoked.
 * `apiKeys` defaults to a repository over the table of the environment.
 */
export async function authorize(
  headers: APIGatewayRequestAuthorizerEventHeaders | null | undefined,
  apiKeys: ApiKeyRepository = authorizerDeps().apiKeys,
): Promise<AuthorizerContext | undefined> {
  const token = bearerToken(headers);
  if (token === undefined) return undefined;
  const resolved = await apiKeys.resolve(token);
  if (!resolved) return undefined;
  return { tenantId: resolved.tenantId, keyId: resolved.keyId, scopes: resolved.scopes.join(",") };
}

/** `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/*`: every method and path of the stage. */
export function apiWildcardArn(methodArn: string): string {
  const [apiPart, stage] = methodArn.split("/");
  if (!apiPart || !stage) throw new Error(`Unexpected methodArn '${methodArn}'`);
  return `${apiPart}/${stage}/*`;
}

/** The REQUEST authorizer Lambda. */
export async function handler(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const { log, apiKeys } = authorizerDeps();
  const caller = await authorize(event.headers, apiKeys);
  if (!caller) {
    // API Gateway turns exactly this message into a 401; the key itself is never logged.
    log.info("authorizer denied", {
      reason: bearerToken(event.headers) ? "unknown or revoked key" : "missing or malformed",
    });
    throw new Error("Unauthorized");
  }
  return {
    principalId: `${caller.tenantId}/${caller.keyId}`,
    policyDocument: {
      Version: "2012-10-17",
      Statement: [{ Action: "execute-api:Invoke", Effect: "Allow", Resource: apiWildcardArn(event.methodArn) }],
    },
    context: { ...caller },
  };
}
