/**
 * The API Gateway REQUEST authorizer Lambda (the logic: shared/http/authorizer.ts). A missing, malformed, unknown or
 * revoked key is "Unauthorized" (401, customised to INVALID_API_KEY); a storage failure is a 500, never a 401.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from "aws-lambda";
import { loadConfig } from "../../shared/config.js";
import { allowPolicy, authorize, bearerToken } from "../../shared/http/authorizer.js";
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
