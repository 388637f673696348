import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * DynamoDB client timeouts. The SDK's default is none: a stalled connection would hold an API call until API
 * Gateway's 29 s, or a sync until its lease lapses. With these a stuck request fails fast and the SDK's own retries
 * (3 attempts) try a fresh connection.
 */
export const DYNAMODB_TIMEOUTS = {
  /** To open the TCP/TLS connection. */
  connectionTimeoutMs: 2_000,
  /** Socket inactivity while a request waits for its response. */
  requestTimeoutMs: 10_000,
} as const;

/** A DocumentClient that drops undefined attributes; `endpoint` points it at dynalite locally. */
export function createDocumentClient(
  options: {
    endpoint?: string;
    region?: string;
    timeouts?: { connectionTimeoutMs: number; requestTimeoutMs: number };
  } = {},
): DynamoDBDocumentClient {
  const timeouts = options.timeouts ?? DYNAMODB_TIMEOUTS;
  const config: DynamoDBClientConfig = {
    region: options.region ?? "us-east-1",
    requestHandler: {
      connectionTimeout: timeouts.connectionTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      // Without it the current SDK only logs a warning when requestTimeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
    },
  };
  if (options.endpoint) {
    config.endpoint = options.endpoint;
    config.credentials = { accessKeyId: "local", secretAccessKey: "local" };
  }
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    // Upstream JSON has already rounded numbers beyond 2^53 (JSON.parse); store them as parsed instead of failing the write.
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false, allowImpreciseNumbers: true },
  });
}
