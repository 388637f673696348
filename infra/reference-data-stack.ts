/**
 * The whole service in one stack per stage: data store, sync pipeline, REST API, alarms, dashboard, outputs. Settings
 * come from CDK context and are validated here, so a typo fails the synth: `-c stage=<name>` (default `dev`) picks the
 * stage; `context.stages.<name>` in cdk.json holds that stage's settings (over the top-level ones), and only there can
 * a stage be `production` — no command-line flag can flip an existing production stack's protections.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Tags } from "aws-cdk-lib";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct, Node } from "constructs";
import { z } from "zod";
import { CONSOLE_PATH } from "../shared/http/routes.js";
import { Alarms } from "./constructs/alarms.js";
import type { BundleDirectories, FunctionDefaults } from "./constructs/app-function.js";
import { Consumers } from "./constructs/consumers.js";
import { OperationsDashboard } from "./constructs/dashboard.js";
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

/** A stage names the stack, the REST API, the dashboard and the metrics' `stage` dimension. */
export const STAGE_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;
export const DEFAULT_STAGE = "dev";

/** The stack's name (and construct ID) for a stage: stages never share a stack. */
export function stackIdFor(stage: string): string {
  return `ReferenceDataSync-${stage}`;
}

/** The settings a stage has, from `context.stages.<stage>` over the top-level context keys, with their defaults. */
export const stackSettingsSchema = z.object({
  /**
   * Production stage: termination protection, deletion protection, and the table, secret, DLQ, keys and logs retained
   * when the stack goes. Read from `context.stages.<stage>` only.
   */
  production: flag.default(false),
  scheduleMinutes: integer(1, 1440, 5),
  /** Messages per worker invocation; the records of a batch run concurrently. */
  workerBatchSize: integer(1, 10, 2),
  workerMaxConcurrency: integer(2, 1000, 50),
  /** CORS origins (the Waygate UI): a JSON array or a comma list; `*` for any. */
  allowedOrigins: originList.default([]),
  /** Waygate's base URL, into the worker's environment (required: the synth fails without it). */
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
export type StackSettings = z.infer<typeof stackSettingsSchema> & { stage: string; gatewayUrl: string };

/** Reads and validates the stage and its settings; a bad value throws an error naming the key. */
export function readStackSettings(node: Node): StackSettings {
  const stage = String(node.tryGetContext("stage") ?? DEFAULT_STAGE);
  if (!STAGE_PATTERN.test(stage)) {
    throw new Error(`invalid CDK context: stage: '${stage}' must match ${STAGE_PATTERN} (e.g. -c stage=dev)`);
  }
  if (node.tryGetContext("dev") !== undefined) {
    throw new Error(
      "invalid CDK context: dev: the dev flag is gone; pick a stage with -c stage=<name> (a stage is production only when cdk.json's context.stages.<name>.production says so)",
    );
  }
  if (node.tryGetContext("production") !== undefined) {
    throw new Error(
      `invalid CDK context: production: set it in cdk.json's context.stages.${stage}, never on the command line`,
    );
  }
  const stages = (node.tryGetContext("stages") ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const stageConfig = stages[stage] ?? {};
  const raw: Record<string, unknown> = Object.fromEntries(
    Object.keys(stackSettingsSchema.shape)
      .filter((key) => key !== "production")
      .map((key) => [key, node.tryGetContext(key) as unknown]),
  );
  const parsed = stackSettingsSchema.safeParse({ ...raw, ...stageConfig });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new Error(`invalid CDK context (stage ${stage}): ${problems}`);
  }
  const { gatewayUrl } = parsed.data;
  if (gatewayUrl === undefined) {
    throw new Error(
      `missing CDK context: gatewayUrl: the worker needs Waygate's base URL; pass -c gatewayUrl=https://… or set context.stages.${stage}.gatewayUrl in cdk.json`,
    );
  }
  return { ...parsed.data, stage, gatewayUrl };
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
  readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: ReferenceDataStackProps) {
    const settings = readStackSettings(scope.node);
    super(scope, id, {
      description: `Reference Data Sync (${settings.stage}): a tenant-isolated cache of integration reference data`,
      terminationProtection: settings.production,
      ...props,
    });
    const dev = !settings.production;
    this.settings = settings;
    // Cost allocation and ownership: every taggable resource says which service it belongs to.
    Tags.of(this).add("service", "reference-data-sync");
    Tags.of(this).add("stage", settings.stage);

    const defaults: FunctionDefaults = {
      bundles: props.bundles,
      logRetention: dev ? RetentionDays.ONE_WEEK : RetentionDays.THREE_MONTHS,
      removalPolicy: dev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      environment: {
        LOG_LEVEL: settings.logLevel,
        ALLOWED_ORIGINS: settings.allowedOrigins.join(","),
        STAGE: settings.stage,
      },
    };

    this.store = new DataStore(this, "DataStore", { dev });
    this.pipeline = new SyncPipeline(this, "SyncPipeline", {
      store: this.store,
      defaults,
      gatewayUrl: settings.gatewayUrl,
      scheduleMinutes: settings.scheduleMinutes,
      workerBatchSize: settings.workerBatchSize,
      workerMaxConcurrency: settings.workerMaxConcurrency,
      dev,
    });
    this.consumers = new Consumers(this, "Consumers", {
      store: this.store,
      worker: this.pipeline.worker,
      defaults,
      dev,
      ...(settings.eventBusName === undefined ? {} : { eventBusName: settings.eventBusName }),
    });
    this.restApi = new ReferenceDataApi(this, "RestApi", {
      store: this.store,
      queue: this.pipeline.queue,
      defaults,
      allowedOrigins: settings.allowedOrigins,
      stage: settings.stage,
      gatewayUrl: settings.gatewayUrl,
      cloudWatchRole: settings.apiGatewayCloudWatchRole,
      throttlingRateLimit: settings.apiRateLimit,
      throttlingBurstLimit: settings.apiBurstLimit,
    });
    this.alarms = new Alarms(this, "Alarms", {
      pipeline: this.pipeline,
      api: this.restApi.api,
      table: this.store.table,
      stage: settings.stage,
      scheduleMinutes: settings.scheduleMinutes,
      stalenessThreshold: Duration.minutes(settings.stalenessAlarmMinutes),
      ...(settings.alarmEmail === undefined ? {} : { alarmEmail: settings.alarmEmail }),
      production: settings.production,
    });
    // Every function deploys through a canary that rolls back on its own alarms: errors, and p99 for API functions.
    this.pipeline.planner.deployWithCanary(this.alarms.watchFunction(this.pipeline.planner, { errorsPerMinute: 1 }));
    this.pipeline.worker.deployWithCanary(this.alarms.watchFunction(this.pipeline.worker));
    // Its queue and DLQ are not watched: a webhook that fails for a day is one tenant's endpoint, not an outage.
    this.consumers.deliverer.deployWithCanary(this.alarms.watchFunction(this.consumers.deliverer));
    for (const [fn, p99Ms] of [
      [this.restApi.functions["api-query"], 1_000],
      [this.restApi.functions["api-sync"], 3_000],
      [this.restApi.functions["api-config"], 3_000],
      [this.restApi.authorizerFunction, 500],
    ] as const) {
      fn.deployWithCanary(this.alarms.watchFunction(fn, { p99Ms }));
    }
    // The console serves static files: its errors are watched, its latency is not an SLO.
    this.restApi.consoleFunction.deployWithCanary(this.alarms.watchFunction(this.restApi.consoleFunction));
    this.dashboard = new OperationsDashboard(this, "Dashboard", {
      stage: settings.stage,
      alarms: this.alarms,
      pipeline: this.pipeline,
      functions: [
        this.pipeline.planner,
        this.pipeline.worker,
        this.consumers.deliverer,
        ...Object.values(this.restApi.functions),
        this.restApi.authorizerFunction,
        this.restApi.consoleFunction,
      ],
      table: this.store.table,
    });

    new CfnOutput(this, "ApiUrl", {
      description: "Base URL of the REST API (routes under /api/v1): point the Waygate gateway and UI here",
      value: this.restApi.api.url,
    });
    new CfnOutput(this, "ConsoleUrl", {
      description: "The admin console: open it and type an API key",
      value: this.restApi.api.urlForPath(CONSOLE_PATH),
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
    new CfnOutput(this, "DashboardName", { value: this.dashboard.dashboard.dashboardName });
    new CfnOutput(this, "StackSecretArn", {
      description:
        "The stack secret (cursor key only); tenants save their Waygate keys with PUT /api/v1/gateway/credentials",
      value: this.store.secret.secretArn,
    });
  }
}
