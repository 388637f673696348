/**
 * What pages someone, and what rolls a canary back. Outages, never one tenant's own problem: a gateway outage shows as
 * the share of syncs failing for outage kinds across all tenants (shared/metrics.ts OUTAGE_KINDS), while a tenant's
 * expired credentials or broken source only pause that tenant's partitions (a dashboard figure, no alarm). Also: each
 * new DLQ arrival, the age of the oldest sync message, function errors and p99 latency per function, DynamoDB
 * throttles, a planner that stopped running, the API's 5xx rate, and data staleness. Every alarm notifies one
 * KMS-encrypted SNS topic, on alarm and on recovery.
 *
 * Adding a function or a queue is one call: `watchFunction(fn, …)` returns the alarms its canary rolls back on,
 * `watchQueue(…)` watches a queue and its DLQ.
 */
import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import type { RestApi } from "aws-cdk-lib/aws-apigateway";
import { Alarm, ComparisonOperator, MathExpression, Metric, Stats, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Operation, type Table } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { SERVICE_NAME } from "../../shared/log.js";
import { METRIC, METRICS_NAMESPACE } from "../../shared/metrics.js";
import type { AppFunction } from "./app-function.js";
import type { SyncPipeline } from "./sync-pipeline.js";

/** Below this many requests in a period the 5xx rate is not judged: one failed call of two is not an outage. */
export const API_MIN_REQUESTS = 20;
/** The 5xx share of requests that alarms. */
export const API_5XX_RATE = 0.05;
/** Below this many finished syncs in a period the failure ratio is not judged. */
export const SYNC_MIN_OUTCOMES = 20;
/** The share of syncs failing for outage kinds (gateway down, storage failing) that alarms. */
export const OUTAGE_FAILURE_RATIO = 0.25;
/** A sync message older than this has outlived the planner's requeue window: take-overs begin. */
export const QUEUE_AGE_ALARM = Duration.minutes(15);

/** One of the service's EMF metrics (shared/metrics.ts), with the dimensions every one of them carries. */
export function serviceMetric(
  stage: string,
  metricName: string,
  options: { statistic?: string; period?: Duration; dimensions?: Record<string, string>; label?: string } = {},
): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME, stage, ...options.dimensions },
    statistic: options.statistic ?? Stats.SUM,
    period: options.period ?? Duration.minutes(5),
    ...(options.label === undefined ? {} : { label: options.label }),
  });
}

export interface AlarmsProps {
  pipeline: SyncPipeline;
  api: RestApi;
  table: Table;
  /** The metrics' `stage` dimension. */
  stage: string;
  scheduleMinutes: number;
  /** Alarm when the oldest due partition is overdue by more than this. */
  stalenessThreshold: Duration;
  /** Subscribed to the topic when set. */
  alarmEmail?: string;
  production: boolean;
}

/** How a function is watched: its errors always, its p99 duration when it serves requests. */
export interface FunctionWatch {
  /** p99 duration (ms) above which the function alarms; omitted for queue and schedule consumers. */
  p99Ms?: number;
  /** Errors in a minute that count as a bad minute (default 3). */
  errorsPerMinute?: number;
}

/** The alarm topic and the alarms. */
export class Alarms extends Construct {
  readonly topic: Topic;
  readonly stage: string;
  readonly dlqNotEmpty: Alarm;
  readonly dlqArrivals: Alarm;
  readonly queueAge: Alarm;
  readonly syncFailureRatio: Alarm;
  readonly plannerNotRunning: Alarm;
  readonly api5xxRate: Alarm;
  readonly staleness: Alarm;
  readonly throttles: Alarm;
  /** Per function: the alarms its canary rolls back on (errors, and p99 latency for API functions). */
  readonly functionAlarms = new Map<string, Alarm[]>();

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const { pipeline, stage } = props;
    this.stage = stage;
    this.topic = this.createTopic(props);

    const fiveMinutes = Duration.minutes(5);
    const planPeriod = Duration.minutes(Math.max(5, props.scheduleMinutes));

    const queueAlarms = this.watchQueue(
      "Sync",
      pipeline.queue,
      pipeline.deadLetterQueue,
      QUEUE_AGE_ALARM,
      serviceMetric(stage, METRIC.deadLettered),
    );
    this.dlqNotEmpty = queueAlarms.dlqNotEmpty;
    this.dlqArrivals = queueAlarms.dlqArrivals;
    this.queueAge = queueAlarms.queueAge;

    const completed = serviceMetric(stage, METRIC.syncsCompleted);
    const failed = serviceMetric(stage, METRIC.syncsFailed);
    const outage = serviceMetric(stage, METRIC.outageFailures);
    this.syncFailureRatio = this.alarm("SyncOutageRatio", {
      alarmDescription: `More than ${OUTAGE_FAILURE_RATIO * 100}% of syncs across all tenants failed for an outage kind (gateway unavailable, storage failing) in 2 of the last 3 five-minute periods. One tenant's credentials or configuration never count here (RUNBOOK.md: SyncOutageRatio)`,
      metric: new MathExpression({
        label: "outage failure ratio",
        expression: `IF(completed + failed >= ${SYNC_MIN_OUTCOMES}, outage / (completed + failed), 0)`,
        usingMetrics: { completed, failed, outage },
        period: fiveMinutes,
      }),
      threshold: OUTAGE_FAILURE_RATIO,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // Errors cannot show a planner that is not invoked at all (schedule disabled, throttled to zero).
    this.plannerNotRunning = this.alarm("PlannerNotRunning", {
      alarmDescription: "The planner has not run for three schedule periods (RUNBOOK.md: PlannerNotRunning)",
      metric: pipeline.planner.function.metricInvocations({ period: planPeriod, statistic: Stats.SUM }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: TreatMissingData.BREACHING,
    });
    this.api5xxRate = this.alarm("Api5xxRate", {
      alarmDescription: `More than ${API_5XX_RATE * 100}% of API requests failed with 5xx in 2 of the last 3 five-minute periods (judged from ${API_MIN_REQUESTS} requests) (RUNBOOK.md: Api5xxRate)`,
      metric: new MathExpression({
        label: "5xx rate",
        expression: `IF(requests >= ${API_MIN_REQUESTS}, errors / requests, 0)`,
        usingMetrics: {
          errors: props.api.metricServerError({ period: fiveMinutes, statistic: Stats.SUM }),
          requests: props.api.metricCount({ period: fiveMinutes, statistic: Stats.SUM }),
        },
        period: fiveMinutes,
      }),
      threshold: API_5XX_RATE,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.staleness = this.alarm("DataStaleness", {
      alarmDescription: `The oldest due partition is overdue by more than ${props.stalenessThreshold.toHumanString()}: syncs are falling behind (RUNBOOK.md: DataStaleness)`,
      metric: serviceMetric(stage, METRIC.staleness, { statistic: Stats.MAXIMUM, period: planPeriod }),
      threshold: props.stalenessThreshold.toSeconds(),
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      // A planner that emits nothing is caught by PlannerNotRunning and the planner's error alarm.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.throttles = this.alarm("DynamoDbThrottles", {
      alarmDescription:
        "DynamoDB throttled requests in 2 of the last 3 five-minute periods: on-demand capacity or a hot partition key (RUNBOOK.md: DynamoDbThrottles)",
      metric: props.table.metricThrottledRequestsForOperations({
        operations: [
          Operation.GET_ITEM,
          Operation.BATCH_GET_ITEM,
          Operation.QUERY,
          Operation.PUT_ITEM,
          Operation.UPDATE_ITEM,
          Operation.DELETE_ITEM,
          Operation.BATCH_WRITE_ITEM,
        ],
        period: fiveMinutes,
      }),
      threshold: 10,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * Alarms on a function's live alias: errors (a crash, a timeout, a 5xx from an API function) in 2 of 3 minutes, and
   * p99 duration when `p99Ms` is given. Returns them for the function's canary deployment.
   */
  watchFunction(fn: AppFunction, watch: FunctionWatch = {}): Alarm[] {
    const minute = Duration.minutes(1);
    const id = pascal(fn.name);
    const alarms = [
      this.alarm(`${id}Errors`, {
        alarmDescription: `The ${fn.name} function failed (error, crash or timeout) in 2 of the last 3 minutes (RUNBOOK.md: function errors)`,
        metric: fn.alias.metricErrors({ period: minute, statistic: Stats.SUM }),
        threshold: watch.errorsPerMinute ?? 3,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
    if (watch.p99Ms !== undefined) {
      alarms.push(
        this.alarm(`${id}LatencyP99`, {
          alarmDescription: `The ${fn.name} function's p99 duration exceeded ${watch.p99Ms} ms in 3 consecutive minutes (RUNBOOK.md: function latency)`,
          metric: fn.alias.metricDuration({ period: minute, statistic: Stats.p(99) }),
          threshold: watch.p99Ms,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 3,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    this.functionAlarms.set(fn.name, alarms);
    return alarms;
  }

  /**
   * A queue and its DLQ: a message older than `maxAge`, each new DLQ arrival (the visible count rose this minute, or
   * the consumer dead-lettered a message itself — `sentByConsumer`: the alarm goes back to OK the minute after, so the
   * next arrival notifies again), and a DLQ that is not empty.
   */
  watchQueue(
    name: string,
    queue: IQueue,
    deadLetterQueue: IQueue,
    maxAge: Duration,
    sentByConsumer?: Metric,
  ): { queueAge: Alarm; dlqArrivals: Alarm; dlqNotEmpty: Alarm } {
    const minute = Duration.minutes(1);
    const queueAge = this.alarm(`${name}QueueAge`, {
      alarmDescription: `The oldest message on the ${name} queue is older than ${maxAge.toHumanString()} in 3 consecutive five-minute periods: consumers are not keeping up (RUNBOOK.md: QueueAge)`,
      metric: queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: Stats.MAXIMUM }),
      threshold: maxAge.toSeconds(),
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    // SQS stops publishing an idle queue's metrics: REPEAT carries the last count (0) over the gap, so the first
    // arrival after a quiet day is still a rise. Two periods, so DIFF has a previous minute to compare with.
    const visible = deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: minute,
      statistic: Stats.MAXIMUM,
    });
    const dlqArrivals = this.alarm(`${name}DlqArrivals`, {
      alarmDescription: `New messages reached the ${name} dead-letter queue this minute (RUNBOOK.md: DlqArrivals)`,
      metric: new MathExpression({
        label: "new DLQ messages",
        expression:
          sentByConsumer === undefined
            ? "DIFF(FILL(visible, REPEAT))"
            : "MAX([DIFF(FILL(visible, REPEAT)), FILL(sent, 0)])",
        usingMetrics:
          sentByConsumer === undefined
            ? { visible }
            : { visible, sent: sentByConsumer.with({ period: minute, statistic: Stats.SUM }) },
        period: minute,
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const dlqNotEmpty = this.alarm(`${name}DlqNotEmpty`, {
      alarmDescription: `The ${name} dead-letter queue holds messages: inspect them and their \`reason\` attribute (RUNBOOK.md: DlqNotEmpty)`,
      metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: Stats.MAXIMUM,
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    return { queueAge, dlqArrivals, dlqNotEmpty };
  }

  /** Every alarm of this construct. */
  get all(): Alarm[] {
    return this.node.children.filter((child): child is Alarm => child instanceof Alarm);
  }

  private createTopic(props: AlarmsProps): Topic {
    // A customer managed key, because CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key.
    const key = new Key(this, "TopicKey", {
      description: `Encrypts the Reference Data Sync alarm topic (${props.stage})`,
      enableKeyRotation: true,
      removalPolicy: props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsPublish",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
      }),
    );
    const topic = new Topic(this, "Topic", {
      displayName: `Reference Data Sync alarms (${props.stage})`,
      masterKey: key,
      enforceSSL: true,
    });
    const stack = Stack.of(this);
    topic.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsOfThisAccount",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [topic.topicArn],
        conditions: {
          ArnLike: { "aws:SourceArn": `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
          StringEquals: { "aws:SourceAccount": stack.account },
        },
      }),
    );
    if (props.alarmEmail !== undefined) topic.addSubscription(new EmailSubscription(props.alarmEmail));
    return topic;
  }

  private alarm(id: string, props: ConstructorParameters<typeof Alarm>[2]): Alarm {
    const alarm = new Alarm(this, id, { alarmName: `${Stack.of(this).stackName}-${id}`, ...props });
    const action = new SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    return alarm;
  }
}

/** `sync-worker` → `SyncWorker`. */
function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}
