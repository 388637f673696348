/**
 * The planner Lambda, on an EventBridge schedule: one planning pass (shared/sync/plan.ts) that stops before the
 * Lambda's time runs out, holding back claims while the queue is deep. Logs its summary and publishes its gauges
 * (`StalenessSeconds`, due, enqueued, take-overs, queue depth, and `PartitionsPaused` by reason from the paused
 * index) as EMF metrics.
 */
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { Context, ScheduledEvent } from "aws-lambda";
import { planDiscoveries } from "../../shared/discovery/schedule.js";
import { getRuntime } from "../../shared/runtime.js";
import { publishPausedGauge } from "../../shared/sync/paused-gauge.js";
import { type PlannerSummary, recordPlannerMetrics, runPlanner } from "../../shared/sync/plan.js";
import { createSqsQueueDepth } from "../../shared/sync/sync-queue.js";
import { traceClients, tracer } from "../../shared/tracing.js";

/** Time kept back from the Lambda's budget for the last sends and the logs. */
const MARGIN_MS = 10_000;

/**
 * A scheduled event runs a normal pass. The local stack, at start, sends `detail: { reclaimQueued: true }`: fauxqs
 * keeps no messages across restarts, so every queued partition has lost its message and is taken now.
 */
export const handler = middy<ScheduledEvent, PlannerSummary>(async (event: ScheduledEvent, context: Context) => {
  const runtime = getRuntime();
  traceClients(runtime.doc, runtime.sqs);
  if (!runtime.queue || !runtime.config.QUEUE_URL)
    throw new Error("QUEUE_URL is not set: the planner cannot enqueue syncs");
  const now = runtime.clock.now();
  const remaining = context.getRemainingTimeInMillis();
  const summary = await runPlanner(
    {
      repos: runtime.repos,
      queue: runtime.queue,
      clock: runtime.clock,
      log: runtime.log.child({ fn: "planner", requestId: context.awsRequestId }),
      queueDepth: createSqsQueueDepth(runtime.sqs, runtime.config.QUEUE_URL),
    },
    {
      now,
      deadline: now + remaining - Math.min(MARGIN_MS, remaining / 4),
      reclaimQueued: (event?.detail as { reclaimQueued?: unknown } | undefined)?.reclaimQueued === true,
    },
  );
  // After the claims, so it never takes their time; beside the discoveries, which do not depend on it.
  const pausedGauge = publishPausedGauge({
    repos: runtime.repos,
    metrics: runtime.metrics,
    log: runtime.log.child({ fn: "planner" }),
  });
  // Tenants whose discovery is due: claimed on their exact due key like partitions, one `discover` message each.
  const discoveries = await planDiscoveries(
    { repos: runtime.repos, queue: runtime.queue, clock: runtime.clock, log: runtime.log.child({ fn: "planner" }) },
    runtime.clock.now(),
  ).catch((error: unknown) => {
    runtime.log.error("planner could not plan discoveries", { error });
    return 0;
  });
  if (discoveries > 0) runtime.log.info("discoveries queued", { discoveries });
  recordPlannerMetrics(runtime.metrics, summary);
  await pausedGauge;
  runtime.metrics.publish();
  return summary;
}).use(captureLambdaHandler(tracer, { captureResponse: false }));
