/**
 * The sync flow of DESIGN.md: an EventBridge schedule runs the planner, which claims due partitions and enqueues them
 * on the sync queue; the worker consumes the queue with partial batch responses. A message that keeps failing reaches
 * the DLQ through the queue's redrive (5 receives); a malformed one is sent there by the worker itself.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction as LambdaTarget } from "aws-cdk-lib/aws-events-targets";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { AppFunction, type FunctionDefaults } from "./app-function.js";
import type { DataStore } from "./data-store.js";

/** The worker's Lambda timeout; it checkpoints and continues in a new invocation before reaching it. */
export const WORKER_TIMEOUT = Duration.minutes(5);
/** AWS's guidance for Lambda consumers: visibility ≥ 6 × the function timeout, so throttled retries do not redeliver. */
export const QUEUE_VISIBILITY = Duration.seconds(6 * WORKER_TIMEOUT.toSeconds());
export const PLANNER_TIMEOUT = Duration.minutes(1);
export const MAX_RECEIVE_COUNT = 5;

export interface SyncPipelineProps {
  store: DataStore;
  defaults: FunctionDefaults;
  /** Waygate's base URL, where the worker invokes actions. */
  gatewayUrl: string;
  /** Minutes between planner runs. */
  scheduleMinutes: number;
  /** Messages per worker invocation (1-10). */
  workerBatchSize: number;
  /**
   * Upper bound of concurrent worker invocations the queue drives (2-1000), which also bounds gateway load. Sized per
   * stage: 10,000 tenants × 25 partitions a day need about 3 syncs a second, a few seconds each.
   */
  workerMaxConcurrency: number;
  dev: boolean;
}

/** Sync queue + DLQ, planner on its schedule, worker on the queue. */
export class SyncPipeline extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly planner: AppFunction;
  readonly worker: AppFunction;
  readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: SyncPipelineProps) {
    super(scope, id);
    const { store, defaults } = props;

    this.deadLetterQueue = new Queue(this, "DeadLetterQueue", {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Failed messages are the evidence of an incident: keep them if a production stack is deleted.
      removalPolicy: props.dev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    this.queue = new Queue(this, "SyncQueue", {
      visibilityTimeout: QUEUE_VISIBILITY,
      // SQS's default, stated: a message older than this is gone, and its partition comes back through the due index.
      retentionPeriod: Duration.days(4),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });

    this.planner = new AppFunction(this, "Planner", {
      name: "planner",
      description: "Claims due partitions from the due index and enqueues their sync messages",
      timeout: PLANNER_TIMEOUT,
      memorySize: 512,
      defaults,
    })
      .writeTable(store)
      .sendTo(this.queue, "QUEUE_URL")
      .readQueueDepth(this.queue);
    store.grantQueryPausedIndex(this.planner.role);
    // A crashed run is superseded by the next scheduled one; Lambda's own async retries would only overlap it.
    this.planner.alias.configureAsyncInvoke({ retryAttempts: 0 });

    this.worker = new AppFunction(this, "Worker", {
      name: "sync-worker",
      description: "Syncs one partition per message through the Waygate gateway",
      timeout: WORKER_TIMEOUT,
      memorySize: 1024,
      defaults,
    })
      .writeTable(store)
      .sendTo(this.queue, "QUEUE_URL")
      .sendTo(this.deadLetterQueue, "DLQ_URL")
      .useCredentialsKey(store.credentialsKey, "decrypt")
      .setEnvironment("GATEWAY_URL", props.gatewayUrl);
    this.worker.alias.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: props.workerBatchSize,
        maxConcurrency: props.workerMaxConcurrency,
        reportBatchItemFailures: true,
      }),
    );

    this.schedule = new Rule(this, "PlannerSchedule", {
      description: "Runs the planner",
      schedule: Schedule.rate(Duration.minutes(props.scheduleMinutes)),
      targets: [
        new LambdaTarget(this.planner.alias, {
          // Retry a throttled invocation briefly; an event older than one interval is replaced by the next run.
          retryAttempts: 2,
          maxEventAge: Duration.minutes(Math.max(1, props.scheduleMinutes)),
        }),
      ],
    });
  }
}
