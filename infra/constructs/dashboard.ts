/**
 * One CloudWatch dashboard per stage with what the alarms watch and what an operator asks next: sync outcomes and
 * failures by kind, paused partitions by reason (the gauge) and pauses by reason (events), the gateway's latency and
 * error ratio, the queue's age and depth, the DLQ, the planner (staleness, take-overs, backpressure), per-function
 * errors and p99, and DynamoDB throttles.
 */
import { Duration } from "aws-cdk-lib";
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  MathExpression,
  Stats,
  TextWidget,
} from "aws-cdk-lib/aws-cloudwatch";
import { Operation, type Table } from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { SERVICE_NAME } from "../../shared/log.js";
import { METRIC, METRICS_NAMESPACE } from "../../shared/metrics.js";
import { type Alarms, serviceMetric } from "./alarms.js";
import type { AppFunction } from "./app-function.js";
import type { SyncPipeline } from "./sync-pipeline.js";

export interface OperationsDashboardProps {
  stage: string;
  alarms: Alarms;
  pipeline: SyncPipeline;
  /** Every function of the stack, for errors and p99 duration. */
  functions: readonly AppFunction[];
  table: Table;
}

/** The stage's dashboard, named `reference-data-sync-<stage>`. */
export class OperationsDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const { stage, pipeline } = props;
    const period = Duration.minutes(5);
    const metric = (name: string, statistic: string = Stats.SUM, label?: string) =>
      serviceMetric(stage, name, { statistic, period, ...(label === undefined ? {} : { label }) });
    // One line per kind or reason, whichever appear: the dimension values are not known in advance. A count sums its
    // period; a gauge (published each planner run) shows its period's largest value.
    const search = (name: string, dimension: string, statistic: "Sum" | "Maximum" = "Sum") =>
      new MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},${dimension},service,stage} MetricName="${name}" service="${SERVICE_NAME}" stage="${stage}"', '${statistic}', 300)`,
        label: "",
        period,
      });

    this.dashboard = new Dashboard(this, "Dashboard", {
      dashboardName: `reference-data-sync-${stage}`,
      defaultInterval: Duration.hours(6),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# Reference Data Sync (${stage})\nWhat each alarm means and the first commands to run: docs/RUNBOOK.md`,
        width: 24,
        height: 2,
      }),
      new AlarmStatusWidget({ title: "Alarms", alarms: props.alarms.all, width: 24, height: 4 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Syncs: completed, failed, failed for outage kinds",
        left: [
          metric(METRIC.syncsCompleted, Stats.SUM, "completed"),
          metric(METRIC.syncsFailed, Stats.SUM, "failed"),
          metric(METRIC.outageFailures, Stats.SUM, "outage kinds"),
        ],
        width: 6,
      }),
      new GraphWidget({ title: "Failed syncs by kind", left: [search(METRIC.syncFailuresByKind, "kind")], width: 6 }),
      new GraphWidget({
        title: "Paused partitions by reason (now)",
        left: [search(METRIC.partitionsPaused, "reason", "Maximum")],
        leftYAxis: { min: 0 },
        width: 6,
      }),
      new GraphWidget({
        title: "Pauses by reason (worker and planner, events)",
        left: [search(METRIC.pauseEvents, "reason")],
        width: 6,
      }),
    );
    const calls = metric(METRIC.gatewayCalls);
    const errors = metric(METRIC.gatewayErrors);
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Gateway latency (ms)",
        left: [metric(METRIC.gatewayLatency, Stats.p(50), "p50"), metric(METRIC.gatewayLatency, Stats.p(99), "p99")],
        width: 8,
      }),
      new GraphWidget({
        title: "Gateway error ratio",
        left: [
          new MathExpression({
            expression: "IF(calls > 0, errors / calls, 0)",
            usingMetrics: { calls, errors },
            label: "errors / calls",
            period,
          }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: "Discovery failures, messages dead-lettered by the worker",
        left: [
          metric(METRIC.discoveryFailures, Stats.SUM, "discovery failures"),
          metric(METRIC.deadLettered, Stats.SUM, "dead-lettered (malformed)"),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Sync queue: oldest message (s)",
        left: [pipeline.queue.metricApproximateAgeOfOldestMessage({ period, statistic: Stats.MAXIMUM })],
        width: 8,
      }),
      new GraphWidget({
        title: "Sync queue depth and DLQ",
        left: [
          pipeline.queue.metricApproximateNumberOfMessagesVisible({
            period,
            statistic: Stats.MAXIMUM,
            label: "visible",
          }),
          pipeline.queue.metricApproximateNumberOfMessagesNotVisible({
            period,
            statistic: Stats.MAXIMUM,
            label: "in flight",
          }),
        ],
        right: [
          pipeline.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            period,
            statistic: Stats.MAXIMUM,
            label: "DLQ",
          }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: "Planner: staleness (s), take-overs, backpressure",
        left: [metric(METRIC.staleness, Stats.MAXIMUM, "oldest overdue (s)")],
        right: [
          metric(METRIC.takeOvers, Stats.SUM, "take-overs"),
          metric(METRIC.backpressure, Stats.SUM, "runs held back"),
          metric(METRIC.enqueuedPartitions, Stats.SUM, "enqueued"),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Function errors",
        left: props.functions.map((fn) => fn.alias.metricErrors({ period, statistic: Stats.SUM, label: fn.name })),
        width: 8,
      }),
      new GraphWidget({
        title: "Function p99 duration (ms)",
        left: props.functions.map((fn) => fn.alias.metricDuration({ period, statistic: Stats.p(99), label: fn.name })),
        width: 8,
      }),
      new GraphWidget({
        title: "DynamoDB throttled requests",
        left: [
          props.table.metricThrottledRequestsForOperations({
            operations: [Operation.GET_ITEM, Operation.QUERY, Operation.UPDATE_ITEM, Operation.BATCH_WRITE_ITEM],
            period,
          }),
        ],
        width: 8,
      }),
    );
  }
}
