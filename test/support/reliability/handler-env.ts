/**
 * Points the deployed handlers (functions/*) at a reliability world: the environment the CDK stack would set, the
 * runtime rebuilt over it (shared/runtime.ts), and the world's manual clock and a silent logger injected. Also builds
 * SQS events the way Lambda's event source mapping does.
 */
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Message } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { sampleGatewayKey } from "../../../infra/local/sample-gateway/index.js";
import { toSqsEvent } from "../../../infra/local/sqs-poller.js";
import { overrideRuntime, resetRuntime } from "../../../shared/runtime.js";
import type { World } from "../sync-harness.js";

/** Sets the handlers' environment to the world's table, queues and gateway; returns a function that undoes it. */
export function useWorldRuntime(world: World): () => void {
  const values: Record<string, string> = {
    TABLE_NAME: world.tableName,
    QUEUE_URL: world.queueUrl,
    DLQ_URL: world.dlqUrl,
    DYNAMODB_ENDPOINT: world.servers.dynamo.endpoint,
    SQS_ENDPOINT: world.servers.sqs.endpoint,
    GATEWAY_URL: world.gateway.url,
    CURSOR_SECRET: "reliability-suite-cursor-secret",
    CREDENTIALS_KEY_FILE: join(tmpdir(), `rds-world-${randomUUID()}.key`),
    LOG_LEVEL: "error",
    // The suite calls the handlers with one key hundreds of times a second (the per-key limit has its own tests).
    API_KEY_RATE_PER_SECOND: "1000000",
    API_KEY_BURST: "1000000",
  };
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  Object.assign(process.env, values);
  resetRuntime();
  // The world's tenants are not registered through PUT /gateway/credentials (the credentials suite covers that): the
  // handlers get each tenant's sample-gateway key through the same provider port the stored keys go through.
  overrideRuntime({
    clock: world.clock,
    log: world.log,
    tenantKeys: async (tenantId) => ({ apiKey: sampleGatewayKey(tenantId), version: "sample" }),
  });
  return () => {
    resetRuntime();
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** An SQS event with one record per body, as Lambda delivers a batch. */
export function sqsEvent(bodies: string[], queueArn = "arn:aws:sqs:us-east-1:000000000000:reliability"): SQSEvent {
  const messages: Message[] = bodies.map((body) => ({
    MessageId: randomUUID(),
    ReceiptHandle: randomUUID(),
    Body: body,
    Attributes: { SentTimestamp: String(Date.now()), ApproximateReceiveCount: "1" },
  }));
  return toSqsEvent(messages, queueArn, "us-east-1");
}
