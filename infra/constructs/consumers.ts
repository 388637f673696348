/**
 * Events and webhooks (DESIGN.md "Events, webhooks"): the event bus (created, or an existing one named by context),
 * `PutEvents` granted to the sync worker only, and the webhook path — a rule for this service's events → the webhook
 * queue (its own DLQ after about a day of backed-off retries) → the deliverer function. The queue and function are
 * apart from the sync pipeline, so a slow or dead endpoint never holds up a sync.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { EventBus, type IEventBus, Rule } from "aws-cdk-lib/aws-events";
import { SqsQueue } from "aws-cdk-lib/aws-events-targets";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { EVENT_SOURCE } from "../../shared/events/events.js";
import { DELIVERY_MAX_RECEIVES, DELIVERY_TIMEOUT_MS } from "../../shared/webhooks/deliver.js";
import { WEBHOOK_SECRET_PURPOSE } from "../../shared/webhooks/webhooks.js";
import { AppFunction, type FunctionDefaults } from "./app-function.js";
import type { DataStore } from "./data-store.js";

export const DELIVERER_TIMEOUT = Duration.seconds(Math.ceil((DELIVERY_TIMEOUT_MS * 2) / 1000) + 10);

export interface ConsumersProps {
  store: DataStore;
  /** The sync worker: the only function that may put events. */
  worker: AppFunction;
  defaults: FunctionDefaults;
  /** An existing bus to use (context `eventBusName`); without it the stack creates one. */
  eventBusName?: string;
  dev: boolean;
}

export class Consumers extends Construct {
  readonly bus: IEventBus;
  readonly webhookQueue: Queue;
  readonly webhookDeadLetterQueue: Queue;
  readonly deliverer: AppFunction;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: ConsumersProps) {
    super(scope, id);
    const { store, defaults } = props;
    this.bus = props.eventBusName
      ? EventBus.fromEventBusName(this, "Bus", props.eventBusName)
      : new EventBus(this, "Bus", { description: "Reference Data Sync events: Sync Completed, Sync Failed, …" });
    this.bus.grantPutEventsTo(props.worker.role);
    // Tenant erasure runs in the worker and Scans for the tenant's rows.
    store.grantScan(props.worker.role);
    props.worker.setEnvironment("EVENT_BUS_NAME", this.bus.eventBusName);

    this.webhookDeadLetterQueue = new Queue(this, "WebhookDeadLetterQueue", {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: props.dev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    this.webhookQueue = new Queue(this, "WebhookQueue", {
      visibilityTimeout: Duration.seconds(6 * DELIVERER_TIMEOUT.toSeconds()),
      // Longer than the day of retries, so a message is dead-lettered, never expired.
      retentionPeriod: Duration.days(4),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.webhookDeadLetterQueue, maxReceiveCount: DELIVERY_MAX_RECEIVES },
    });
    this.rule = new Rule(this, "WebhookRule", {
      description: "Every event of this service, to the webhook deliverer's queue",
      eventBus: this.bus,
      eventPattern: { source: [EVENT_SOURCE] },
      targets: [new SqsQueue(this.webhookQueue)],
    });

    this.deliverer = new AppFunction(this, "Deliverer", {
      name: "webhook-deliverer",
      description: "POSTs each tenant's events to its webhook, signed; retries with backoff for a day",
      timeout: DELIVERER_TIMEOUT,
      memorySize: 256,
      defaults,
    })
      .readTable(store)
      // Signing secrets are stored encrypted: Decrypt for them alone, not for tenants' Waygate keys.
      .useCredentialsKey(store.credentialsKey, "decrypt", WEBHOOK_SECRET_PURPOSE)
      // Webhooks stored before their secrets were stored sign with a secret derived from the cursor key.
      .readSecret(store.secret)
      .setEnvironment("WEBHOOK_QUEUE_URL", this.webhookQueue.queueUrl);
    this.deliverer.alias.addEventSource(
      new SqsEventSource(this.webhookQueue, { batchSize: 10, maxConcurrency: 5, reportBatchItemFailures: true }),
    );
  }
}
