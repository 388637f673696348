import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/** A DocumentClient that drops undefined attributes; `endpoint` points it at dynalite locally. */
export function createDocumentClient(options: { endpoint?: string; region?: string } = {}): DynamoDBDocumentClient {
  const config: DynamoDBClientConfig = { region: options.region ?? "us-east-1" };
  if (options.endpoint) {
    config.endpoint = options.endpoint;
    config.credentials = { accessKeyId: "local", secretAccessKey: "local" };
  }
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    // Upstream JSON has already rounded numbers beyond 2^53 (JSON.parse); store them as parsed instead of failing the write.
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false, allowImpreciseNumbers: true },
  });
}
