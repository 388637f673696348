/**
 * The sync-worker Lambda: SQS batches of sync and fan-out messages (shared/sync/process-batch.ts). Returns partial
 * batch failures, so only the records that failed for a transient reason are redelivered.
 */
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { createGatewayClient } from "../../shared/gateway/client.js";
import { createSqsEraseQueue } from "../../shared/lifecycle/erasure.js";
import { createTableRows } from "../../shared/lifecycle/table-rows.js";
import { timeGatewayCalls } from "../../shared/metrics.js";
import { quotaLimits } from "../../shared/quotas.js";
import { getRuntime, type Runtime } from "../../shared/runtime.js";
import {
  createSqsDeadLetterQueue,
  createSqsRetryScheduler,
  processSyncBatch,
  type QueueRecord,
  type WorkerDeps,
} from "../../shared/sync/process-batch.js";
import { DEFAULT_SYNC_OPTIONS } from "../../shared/sync/run-sync.js";
import { traceClients, tracer } from "../../shared/tracing.js";

let cached: { runtime: Runtime; deps: WorkerDeps } | undefined;

/** Built once per runtime (resetRuntime() in tests and the local stack builds it again). */
function workerDeps(): WorkerDeps {
  const runtime = getRuntime();
  if (cached?.runtime === runtime) return cached.deps;
  traceClients(runtime.doc, runtime.sqs);
  const { config } = runtime;
  if (!config.GATEWAY_URL) throw new Error("GATEWAY_URL is not set: the worker cannot reach the gateway");
  if (!runtime.queue) throw new Error("QUEUE_URL is not set: the worker cannot send continuations");
  // Every call carries the tenant's own Waygate key: there is no deployment-wide token. Latency and errors of every
  // gateway call, syncs' and discovery's alike (GatewayLatency, GatewayErrors).
  const gateway = timeGatewayCalls(
    createGatewayClient({
      baseUrl: config.GATEWAY_URL,
      apiKey: runtime.tenantKeys,
      clock: runtime.clock,
      maxResponseBytes: config.GATEWAY_MAX_RESPONSE_BYTES,
    }),
    runtime.metrics,
  );
  const deps: WorkerDeps = {
    repos: runtime.repos,
    gateway,
    discovery: {
      gateway,
      intervalSeconds: config.DISCOVERY_INTERVAL_SECONDS,
      quotas: quotaLimits(config),
      purgeAfterMs: config.REVOKED_RETENTION_DAYS * 86_400_000,
    },
    queue: runtime.queue,
    clock: runtime.clock,
    log: runtime.log.child({ fn: "sync-worker" }),
    deadLetters: runtime.dlqUrl ? createSqsDeadLetterQueue(runtime.sqs, runtime.dlqUrl) : undefined,
    events: runtime.events,
    lifecycle: {
      repos: runtime.repos,
      rows: createTableRows(runtime.doc, config.TABLE_NAME),
      erasure: {
        doc: runtime.doc,
        tableName: config.TABLE_NAME,
        queue: config.QUEUE_URL ? createSqsEraseQueue(runtime.sqs, config.QUEUE_URL) : undefined,
        clock: runtime.clock,
      },
      clock: runtime.clock,
      log: runtime.log.child({ fn: "sync-worker" }),
    },
    options: {
      changeRetentionDays: config.CHANGE_RETENTION_DAYS,
      inactiveRetentionDays: config.INACTIVE_RETENTION_DAYS,
    },
    metrics: runtime.metrics,
    retries: createSqsRetryScheduler(runtime.sqs, config.QUEUE_URL as string),
  };
  cached = { runtime, deps };
  return deps;
}

export const handler = middy<SQSEvent, SQSBatchResponse>(async (event: SQSEvent, context: Context) => {
  const deps = workerDeps();
  // 30 s in a 15-minute Lambda; a quarter of the budget in a short local one.
  const timeMarginMs = Math.min(DEFAULT_SYNC_OPTIONS.timeMarginMs, Math.floor(context.getRemainingTimeInMillis() / 4));
  const records = event.Records.map(toQueueRecord);
  try {
    const { batchItemFailures } = await processSyncBatch(
      {
        ...deps,
        log: deps.log.child({ requestId: context.awsRequestId }),
        options: { ...deps.options, timeMarginMs },
        minStartMs: Math.min(10_000, timeMarginMs),
      },
      records,
      { remainingMs: () => context.getRemainingTimeInMillis(), invocationId: context.awsRequestId },
    );
    return { batchItemFailures };
  } finally {
    deps.metrics?.publish();
  }
}).use(captureLambdaHandler(tracer, { captureResponse: false }));

function toQueueRecord(record: SQSRecord): QueueRecord {
  const queued: QueueRecord = { messageId: record.messageId, body: record.body };
  const sentAt = Number(record.attributes?.SentTimestamp);
  if (Number.isFinite(sentAt)) queued.sentAt = sentAt;
  if (record.receiptHandle) queued.receiptHandle = record.receiptHandle;
  const receiveCount = Number(record.attributes?.ApproximateReceiveCount);
  if (Number.isFinite(receiveCount)) queued.receiveCount = receiveCount;
  return queued;
}
