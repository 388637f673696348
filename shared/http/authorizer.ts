/**
 * The authorizer's logic, shared by the REQUEST authorizer Lambda (functions/authorizer) and the local HTTP server:
 * `Authorization: Bearer <key>` → the key's tenant and scopes. The policy allows the whole API (`{apiId}/{stage}/*`),
 * because API Gateway caches the result per key for 60 s across every route; the scope a route needs is checked by
 * the route itself (shared/http/middleware.ts).
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEventHeaders } from "aws-lambda";
import type { Config } from "../config.js";
import type { ApiKeyRepository } from "../storage/ports.js";

/** What the authorizer puts in `requestContext.authorizer`: API Gateway allows only flat string values. */
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

/** Resolves the caller of a request from its headers; undefined when the key is missing, malformed, unknown or revoked. */
export async function authorize(
  headers: APIGatewayRequestAuthorizerEventHeaders | null | undefined,
  apiKeys: Pick<ApiKeyRepository, "resolve">,
): Promise<AuthorizerContext | undefined> {
  const token = bearerToken(headers);
  if (token === undefined) return undefined;
  const resolved = await apiKeys.resolve(token);
  if (!resolved) return undefined;
  return { tenantId: resolved.tenantId, keyId: resolved.keyId, scopes: resolved.scopes.join(",") };
}

/** The policy of an allowed caller: every method and path of the stage of `methodArn`, with the caller as context. */
export function allowPolicy(caller: AuthorizerContext, methodArn: string): APIGatewayAuthorizerResult {
  return {
    principalId: `${caller.tenantId}/${caller.keyId}`,
    policyDocument: {
      Version: "2012-10-17",
      Statement: [{ Action: "execute-api:Invoke", Effect: "Allow", Resource: apiWildcardArn(methodArn) }],
    },
    context: { ...caller },
  };
}

/** `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/*`: every method and path of the stage. */
function apiWildcardArn(methodArn: string): string {
  const [apiPart, stage] = methodArn.split("/");
  if (!apiPart || !stage) throw new Error(`Unexpected methodArn '${methodArn}'`);
  return `${apiPart}/${stage}/*`;
}

/** The part of the configuration the authorizer reads: where the table is, and how much to log. */
export type AuthorizerConfig = Pick<Config, "TABLE_NAME" | "DYNAMODB_ENDPOINT" | "AWS_REGION" | "LOG_LEVEL">;

const LOG_LEVELS: readonly string[] = ["debug", "info", "warn", "error"];

/**
 * `loadConfig` (shared/config.ts) for these four variables, with the same defaults and checks, read by hand: zod is
 * most of the weight of a bundle this small (test/unit/http/authorizer-config.test.ts holds the two to the same
 * answers).
 */
export function authorizerConfig(env: NodeJS.ProcessEnv): AuthorizerConfig {
  const { TABLE_NAME = "reference-data", DYNAMODB_ENDPOINT, AWS_REGION = "us-east-1", LOG_LEVEL = "info" } = env;
  const invalid = (name: string, why: string) => new Error(`Invalid environment: ${name}: ${why}`);
  if (TABLE_NAME === "") throw invalid("TABLE_NAME", "must not be empty");
  if (!LOG_LEVELS.includes(LOG_LEVEL)) throw invalid("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}`);
  const config: AuthorizerConfig = { TABLE_NAME, AWS_REGION, LOG_LEVEL: LOG_LEVEL as AuthorizerConfig["LOG_LEVEL"] };
  if (DYNAMODB_ENDPOINT !== undefined) {
    if (!URL.canParse(DYNAMODB_ENDPOINT.trim())) throw invalid("DYNAMODB_ENDPOINT", "must be a URL");
    config.DYNAMODB_ENDPOINT = DYNAMODB_ENDPOINT.trim();
  }
  return config;
}
