/**
 * What pages someone: messages in the DLQ, worker and planner errors, a planner that stopped running, the API's 5xx
 * rate, and data staleness (the planner's `StalenessSeconds` EMF metric: how overdue the oldest due partition is).
 * Every alarm notifies one KMS-encrypted SNS topic, on alarm and on recovery.
 */
import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import type { RestApi } from "aws-cdk-lib/aws-apigateway";
import { Alarm, ComparisonOperator, MathExpression, Metric, Stats, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import type { SyncPipeline } from "./sync-pipeline.js";

/** The planner's EMF metric (namespace, name) the staleness alarm watches. */
export const STALENESS_METRIC = { namespace: "ReferenceDataSync", metricName: "StalenessSeconds" } as const;
/** Below this many requests in a period the 5xx rate is not judged: one failed call of two is not an outage. */
export const API_MIN_REQUESTS = 20;
/** The 5xx share of requests that alarms. */
export const API_5XX_RATE = 0.05;

export interface AlarmsProps {
  pipeline: SyncPipeline;
  api: RestApi;
  scheduleMinutes: number;
  /** Alarm when the oldest due partition is overdue by more than this. */
  stalenessThreshold: Duration;
  /** Dimensions the planner emits `StalenessSeconds` with (none by default). */
  stalenessDimensions?: Record<string, string>;
  /** Subscribed to the topic when set. */
  alarmEmail?: string;
  dev: boolean;
}

/** The alarm topic and the alarms. */
export class Alarms extends Construct {
  readonly topic: Topic;
  readonly dlqNotEmpty: Alarm;
  readonly workerErrors: Alarm;
  readonly plannerErrors: Alarm;
  readonly plannerNotRunning: Alarm;
  readonly api5xxRate: Alarm;
  readonly staleness: Alarm;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const { pipeline } = props;

    // A customer managed key, because CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key.
    const key = new Key(this, "TopicKey", {
      description: "Encrypts the Reference Data Sync alarm topic",
      enableKeyRotation: true,
      removalPolicy: props.dev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsPublish",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
      }),
    );
    this.topic = new Topic(this, "Topic", {
      displayName: "Reference Data Sync alarms",
      masterKey: key,
      enforceSSL: true,
    });
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsOfThisAccount",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: { "aws:SourceArn": `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
          StringEquals: { "aws:SourceAccount": stack.account },
        },
      }),
    );
    if (props.alarmEmail !== undefined) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));

    const fiveMinutes = Duration.minutes(5);
    const planPeriod = Duration.minutes(Math.max(5, props.scheduleMinutes));

    this.dlqNotEmpty = this.alarm("DlqNotEmpty", {
      alarmDescription:
        "Sync messages reached the dead-letter queue (malformed, or failed 5 times): inspect them and their `reason` attribute",
      metric: pipeline.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: fiveMinutes,
        statistic: Stats.MAXIMUM,
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    // Per-record failures are reported as batch item failures, not errors: a worker error is a crash or a timeout.
    this.workerErrors = this.alarm("WorkerErrors", {
      alarmDescription: "The sync worker crashed or timed out in 2 of the last 3 five-minute periods",
      metric: pipeline.worker.function.metricErrors({ period: fiveMinutes, statistic: Stats.SUM }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.plannerErrors = this.alarm("PlannerErrors", {
      alarmDescription: "The planner failed in 2 of its last 3 runs: due partitions are not being enqueued",
      metric: pipeline.planner.function.metricErrors({ period: planPeriod, statistic: Stats.SUM }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    // Errors cannot show a planner that is not invoked at all (schedule disabled, throttled to zero).
    this.plannerNotRunning = this.alarm("PlannerNotRunning", {
      alarmDescription: "The planner has not run for three schedule periods",
      metric: pipeline.planner.function.metricInvocations({ period: planPeriod, statistic: Stats.SUM }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: TreatMissingData.BREACHING,
    });
    this.api5xxRate = this.alarm("Api5xxRate", {
      alarmDescription: `More than ${API_5XX_RATE * 100}% of API requests failed with 5xx in 2 of the last 3 five-minute periods (judged from ${API_MIN_REQUESTS} requests)`,
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
      alarmDescription: `The oldest due partition is overdue by more than ${props.stalenessThreshold.toHumanString()}: syncs are falling behind`,
      metric: new Metric({
        ...STALENESS_METRIC,
        ...(props.stalenessDimensions === undefined ? {} : { dimensionsMap: props.stalenessDimensions }),
        period: planPeriod,
        statistic: Stats.MAXIMUM,
      }),
      threshold: props.stalenessThreshold.toSeconds(),
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      // A planner that emits nothing is caught by PlannerNotRunning/PlannerErrors.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  private alarm(id: string, props: ConstructorParameters<typeof Alarm>[2]): Alarm {
    const alarm = new Alarm(this, id, props);
    const action = new SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    return alarm;
  }
}
