/**
 * X-Ray tracing through Powertools for AWS Lambda's Tracer, for the functions where its cold-start cost fits the
 * budget: the planner and the sync worker (about +15 ms of CPU at import, test/bench/bundle-bench.ts). Their AWS SDK
 * calls (DynamoDB, SQS) and the gateway's fetch calls become subsegments. The API functions and the authorizer leave
 * it out: their cold starts are on a caller's request path, and Lambda's active tracing and API Gateway's tracing still
 * trace their requests. Outside Lambda (tests, the local stack) the Tracer does nothing.
 */
import { Tracer } from "@aws-lambda-powertools/tracer";
import { SERVICE_NAME } from "./log.js";

export const tracer = new Tracer({ serviceName: SERVICE_NAME });

const traced = new WeakSet<object>();

/** Makes each client's calls subsegments, once per client (the runtime rebuilds clients after a reset). */
export function traceClients(...clients: object[]): void {
  for (const client of clients) {
    if (traced.has(client)) continue;
    tracer.captureAWSv3Client(client);
    traced.add(client);
  }
}
