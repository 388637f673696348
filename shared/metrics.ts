/**
 * The service's CloudWatch metrics, written as Embedded Metric Format lines by Powertools for AWS Lambda's Metrics,
 * behind one small interface the handlers and services call. Every metric carries the `service` and `stage`
 * dimensions (so stages never mix); the per-kind and per-reason counts add one more. The names and dimensions here are
 * the contract infra/constructs/alarms.ts and dashboard.ts read: change them together.
 */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { PauseReason } from "./domain/entities.js";
import { SERVICE_NAME } from "./log.js";

export const METRICS_NAMESPACE = "ReferenceDataSync";

/** Metric names. */
export const METRIC = {
  syncsCompleted: "SyncsCompleted",
  /** Every failed sync, any kind (the failure ratio's denominator adds it to SyncsCompleted). */
  syncsFailed: "SyncsFailed",
  /** Failed syncs of the kinds no single tenant causes (OUTAGE_KINDS): the failure-ratio alarm's numerator. */
  outageFailures: "SyncOutageFailures",
  /** Failed syncs with a `kind` dimension. */
  syncFailuresByKind: "SyncFailures",
  /**
   * Gauge: partitions paused right now, with a `reason` dimension, counted by the planner from the paused index on
   * every run (0 for a reason with none).
   */
  partitionsPaused: "PartitionsPaused",
  /**
   * Events: pauses made by the worker and the planner (a sync that failed into a pause, a source found gone), with a
   * `reason` dimension. Pauses made through the API (revoke, delete, manual, a deleted key) are not counted here; the
   * gauge sees every one.
   */
  pauseEvents: "PartitionPauseEvents",
  /** Messages the worker sent to the DLQ itself (malformed; they have no source queue to redrive to). */
  deadLettered: "MessagesDeadLettered",
  discoveryFailures: "DiscoveryFailures",
  gatewayCalls: "GatewayCalls",
  gatewayErrors: "GatewayErrors",
  gatewayLatency: "GatewayLatency",
  /** Planner: how overdue the oldest due partition is, and its run's counts. */
  staleness: "StalenessSeconds",
  duePartitions: "DuePartitions",
  enqueuedPartitions: "EnqueuedPartitions",
  plannerFailures: "PlannerFailures",
  takeOvers: "PartitionTakeOvers",
  queueDepth: "SyncQueueVisibleDepth",
  /** 1 when the planner held back claims because the queue was too deep. */
  backpressure: "PlannerBackpressure",
} as const;

/**
 * Why a sync did not complete. A pause reason (credentials, config, source_deleted, revoked…) is a problem of one
 * tenant's setup; `gateway` (retryable gateway or upstream errors) and `transient` (DynamoDB, network: redelivered)
 * are what a shared outage looks like; `data` is an upstream record we cannot store; `malformed` a message that can
 * never be processed.
 */
export type FailureKind = PauseReason | "gateway" | "transient" | "data" | "malformed";

/** Kinds that no single tenant's configuration or credentials cause: many of them across tenants is an outage. */
export const OUTAGE_KINDS: ReadonlySet<string> = new Set<FailureKind>(["gateway", "transient"]);

export interface ServiceMetrics {
  syncCompleted(): void;
  syncFailed(kind: FailureKind): void;
  /** One pause made now (an event). */
  partitionPaused(reason: string): void;
  /** The PartitionsPaused gauge of one reason. */
  pausedPartitions(reason: string, count: number): void;
  deadLettered(): void;
  discoveryFailed(): void;
  /** One gateway call: its latency and whether it failed. */
  gatewayCall(ms: number, failed: boolean): void;
  /** A value measured once per run (the planner's gauges). */
  gauge(name: string, value: number, unit?: "Count" | "Seconds" | "Milliseconds"): void;
  /** Writes what was recorded since the last publish (one EMF line; per-kind counts are written at once). */
  publish(): void;
}

export interface MetricsOptions {
  /** The stage dimension (`STAGE`, `local` on one machine). */
  stage: string;
}

/** Metrics written to stdout as EMF, for CloudWatch to extract from the function's logs. */
export function createMetrics(options: MetricsOptions): ServiceMetrics {
  const metrics = new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: SERVICE_NAME,
    defaultDimensions: { stage: options.stage },
  });
  const withDimension = (name: string, dimension: string, value: string, count = 1) => {
    const single = metrics.singleMetric();
    single.addDimension(dimension, value);
    single.addMetric(name, MetricUnit.Count, count);
  };
  return {
    syncCompleted: () => metrics.addMetric(METRIC.syncsCompleted, MetricUnit.Count, 1),
    syncFailed: (kind) => {
      metrics.addMetric(METRIC.syncsFailed, MetricUnit.Count, 1);
      if (OUTAGE_KINDS.has(kind)) metrics.addMetric(METRIC.outageFailures, MetricUnit.Count, 1);
      withDimension(METRIC.syncFailuresByKind, "kind", kind);
    },
    partitionPaused: (reason) => withDimension(METRIC.pauseEvents, "reason", reason),
    pausedPartitions: (reason, count) => withDimension(METRIC.partitionsPaused, "reason", reason, count),
    deadLettered: () => metrics.addMetric(METRIC.deadLettered, MetricUnit.Count, 1),
    discoveryFailed: () => metrics.addMetric(METRIC.discoveryFailures, MetricUnit.Count, 1),
    gatewayCall: (ms, failed) => {
      metrics.addMetric(METRIC.gatewayCalls, MetricUnit.Count, 1);
      metrics.addMetric(METRIC.gatewayErrors, MetricUnit.Count, failed ? 1 : 0);
      metrics.addMetric(METRIC.gatewayLatency, MetricUnit.Milliseconds, ms);
    },
    gauge: (name, value, unit = "Count") => metrics.addMetric(name, MetricUnit[unit], value),
    publish: () => {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}

/** Records nothing (tests and tools that do not publish metrics). */
export const noMetrics: ServiceMetrics = {
  syncCompleted: () => {},
  syncFailed: () => {},
  partitionPaused: () => {},
  pausedPartitions: () => {},
  deadLettered: () => {},
  discoveryFailed: () => {},
  gatewayCall: () => {},
  gauge: () => {},
  publish: () => {},
};

/**
 * The same object, with every promise-returning method timed as one gateway call (latency, error or not). A wrapper
 * rather than code in the client, so it holds whatever methods the client grows.
 */
export function timeGatewayCalls<T extends object>(
  client: T,
  metrics: ServiceMetrics,
  now = () => performance.now(),
): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const started = now();
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.then(
          (resolved) => {
            metrics.gatewayCall(now() - started, false);
            return resolved;
          },
          (error: unknown) => {
            metrics.gatewayCall(now() - started, true);
            throw error;
          },
        );
      };
    },
  });
}
