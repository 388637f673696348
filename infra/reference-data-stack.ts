/**
 * The whole service in one stack: data store, sync pipeline, REST API, alarms, outputs. Settings come from CDK context
 * (cdk.json, or `-c key=value` on the command line) and are validated here, so a typo fails the synth.
 */
import { CfnOutput, CfnParameter, Duration, RemovalPolicy, Stack, type StackProps, Tags } from "aws-cdk-lib";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct, Node } from "constructs";
import { z } from "zod";
import { Alarms } from "./constructs/alarms.js";
import type { BundleDirectories, FunctionDefaults } from "./constructs/app-function.js";
import { Consumers } from "./constructs/consumers.js";
import { DataStore } from "./constructs/data-store.js";
import { ReferenceDataApi } from "./constructs/rest-api.js";
import { SyncPipeline } from "./constructs/sync-pipeline.js";

// `-c key=value` delivers strings; cdk.json delivers JSON values. Accept both.
const flag = z.union([z.boolean(), z.enum(["true", "false"]).transform((value) => value === "true")]);
const integer = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
const origin = z.union([
  z.literal("*"),
  z.url({ protocol: /^https?$/ }).refine((url) => !url.endsWith("/"), "no trailing /"),
]);
const originList = z
  .union([
    z.array(z.string()),
    z.string().transform((text) =>
      text.trim().startsWith("[")
        ? (JSON.parse(text) as unknown)
        : text
            .split(",")
            .map((part) => part.trim())
            .filter((part) => part !== ""),
    ),
  ])
  .pipe(z.array(origin));

/** The context keys the stack reads, with their defaults. */
export const stackSettingsSchema = z.object({
  /** Development stack: table, secret, DLQ and logs are deleted with the stack; no termination protection. */
  dev: flag.default(false),
  scheduleMinutes: integer(1, 1440, 5),
  workerBatchSize: integer(1, 10, 5),
  workerMaxConcurrency: integer(2, 1000, 10),
  /** CORS origins (the Waygate UI): a JSON array or a comma list; `*` for any. */
  allowedOrigins: originList.default([]),
  /** Waygate's base URL; may instead be given at deploy time as the GatewayUrl parameter. */
  gatewayUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Subscribed to the alarm topic. */
  alarmEmail: z.email().optional(),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Set the account's API Gateway CloudWatch Logs role; false where the account already has one. */
  apiGatewayCloudWatchRole: flag.default(true),
  apiRateLimit: integer(1, 10_000, 50),
  apiBurstLimit: integer(1, 5_000, 100),
  /** Alarm when the oldest due partition is overdue by more than this many minutes. */
  stalenessAlarmMinutes: integer(5, 10_080, 60),
  /** An existing EventBridge bus for the service's events; without it the stack creates one. */
  eventBusName: z.string().min(1).max(256).optional(),
});
export type StackSettings = z.infer<typeof stackSettingsSchema>;

/** Reads and validates the stack's context keys; a bad value throws an error naming the key. */
export function readStackSettings(node: Node): StackSettings {
  const raw = Object.fromEntries(
    Object.keys(stackSettingsSchema.shape).map((key) => [key, node.tryGetContext(key) as unknown]),
  );
  const parsed = stackSettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new Error(`invalid CDK context: ${problems}`);
  }
  return parsed.data;
}

export interface ReferenceDataStackProps extends StackProps {
  /** The function bundles, from `bundleDirectories(await buildAll())`. */
  bundles: BundleDirectories;
}

/** Reference Data Sync: DynamoDB, SQS, the planner and worker, the REST API and its alarms. */
export class ReferenceDataStack extends Stack {
  readonly settings: StackSettings;
  readonly store: DataStore;
  readonly pipeline: SyncPipeline;
  readonly restApi: ReferenceDataApi;
  readonly alarms: Alarms;
  readonly consumers: Consumers;

  constructor(scope: Construct, id: string, props: ReferenceDataStackProps) {
    const settings = readStackSettings(scope.node);
    super(scope, id, {
      description: "Reference Data Sync: a tenant-isolated cache of integration reference data",
      terminationProtection: !settings.dev,
      ...props,
    });
    this.settings = settings;
    // Cost allocation and ownership: every taggable resource says which service it belongs to.
    Tags.of(this).add("service", "reference-data-sync");

    const gatewayUrl = new CfnParameter(this, "GatewayUrl", {
      type: "String",
      description: "Waygate's base URL (https://...), where the worker invokes actions",
      allowedPattern: "^https?://[^\\s]+$",
      constraintDescription: "must be an http(s) URL",
      ...(settings.gatewayUrl === undefined ? {} : { default: settings.gatewayUrl }),
    });

    const defaults: FunctionDefaults = {
      bundles: props.bundles,
      logRetention: settings.dev ? RetentionDays.ONE_WEEK : RetentionDays.THREE_MONTHS,
      removalPolicy: settings.dev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      environment: { LOG_LEVEL: settings.logLevel, ALLOWED_ORIGINS: settings.allowedOrigins.join(",") },
    };

    this.store = new DataStore(this, "DataStore", { dev: settings.dev });
    this.pipeline = new SyncPipeline(this, "SyncPipeline", {
      store: this.store,
      defaults,
      gatewayUrl: gatewayUrl.valueAsString,
      scheduleMinutes: settings.scheduleMinutes,
      workerBatchSize: settings.workerBatchSize,
      workerMaxConcurrency: settings.workerMaxConcurrency,
      dev: settings.dev,
    });
    this.consumers = new Consumers(this, "Consumers", {
      store: this.store,
      worker: this.pipeline.worker,
      defaults,
      dev: settings.dev,
      ...(settings.eventBusName === undefined ? {} : { eventBusName: settings.eventBusName }),
    });
    this.restApi = new ReferenceDataApi(this, "RestApi", {
      store: this.store,
      queue: this.pipeline.queue,
      defaults,
      allowedOrigins: settings.allowedOrigins,
      cloudWatchRole: settings.apiGatewayCloudWatchRole,
      throttlingRateLimit: settings.apiRateLimit,
      throttlingBurstLimit: settings.apiBurstLimit,
    });
    this.alarms = new Alarms(this, "Alarms", {
      pipeline: this.pipeline,
      api: this.restApi.api,
      scheduleMinutes: settings.scheduleMinutes,
      stalenessThreshold: Duration.minutes(settings.stalenessAlarmMinutes),
      ...(settings.alarmEmail === undefined ? {} : { alarmEmail: settings.alarmEmail }),
      dev: settings.dev,
    });

    new CfnOutput(this, "ApiUrl", {
      description: "Base URL of the REST API (routes under /api/v1): point the Waygate gateway and UI here",
      value: this.restApi.api.url,
    });
    new CfnOutput(this, "TableName", { value: this.store.table.tableName });
    new CfnOutput(this, "QueueUrl", {
      description: "The sync queue: other services may enqueue on-demand sync messages here",
      value: this.pipeline.queue.queueUrl,
    });
    new CfnOutput(this, "DeadLetterQueueUrl", { value: this.pipeline.deadLetterQueue.queueUrl });
    new CfnOutput(this, "AlarmTopicArn", { value: this.alarms.topic.topicArn });
    new CfnOutput(this, "EventBusName", {
      description: "The service's events (Sync Completed, Sync Failed, Partition Paused, Discovery Completed)",
      value: this.consumers.bus.eventBusName,
    });
    new CfnOutput(this, "WebhookDeadLetterQueueUrl", { value: this.consumers.webhookDeadLetterQueue.queueUrl });
    new CfnOutput(this, "GatewaySecretArn", {
      description: "Put the Waygate API key here as gatewayToken (README: Deploy to AWS)",
      value: this.store.secret.secretArn,
    });
  }
}
