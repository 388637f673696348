/**
 * The API Gateway REQUEST authorizer Lambda (the logic: shared/http/authorizer.ts). A missing, malformed, unknown or
 * revoked key is "Unauthorized" (401, customised to INVALID_API_KEY); a storage failure is a 500, never a 401.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from "aws-lambda";
import { allowPolicy, authorize, authorizerConfig, bearerToken } from "../../shared/http/authorizer.js";
import { createLogger, type Logger } from "../../shared/log.js";
import { resolveApiKey } from "../../shared/storage/api-key-resolver.js";
import { createDocumentClient } from "../../shared/storage/client.js";
import type { ApiKeyRepository } from "../../shared/storage/ports.js";

// Only DynamoDB, not the whole runtime (SQS, Secrets Manager), nor zod: the authorizer sits in front of every cold
// request (test/infra/bundles.test.ts keeps them out of its bundle).
type AuthorizerDeps = { apiKeys: Pick<ApiKeyRepository, "resolve">; log: Logger };
let deps: AuthorizerDeps | undefined;
function authorizerDeps(): AuthorizerDeps {
  if (!deps) {
    const config = authorizerConfig({ ...process.env });
    const doc = createDocumentClient({ endpoint: config.DYNAMODB_ENDPOINT, region: config.AWS_REGION });
    deps = {
      apiKeys: { resolve: (key) => resolveApiKey(doc, config.TABLE_NAME, key) },
      log: createLogger({ service: "reference-data-sync", component: "authorizer" }, config.LOG_LEVEL),
    };
  }
  return deps;
}

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
  return allowPolicy(caller, event.methodArn);
}
