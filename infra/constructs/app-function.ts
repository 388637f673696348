/**
 * The one Lambda construct. Runtime, architecture, bundle, source maps, log group, tracing and environment are decided
 * here and nowhere else; a function gets a resource only through the helpers below, which grant the permission and
 * set the environment variable that names the resource together, so a function never sees a resource it may not use.
 * Callers (API Gateway, the queue, the schedule) invoke its `live` alias, which CodeDeploy shifts to a new version
 * with a canary (`deployWithCanary`), rolling back when the function's alarms fire.
 */
import { existsSync } from "node:fs";
import { basename, dirname } from "node:path";
import { type Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import type { IAlarm } from "aws-cdk-lib/aws-cloudwatch";
import { LambdaDeploymentConfig, LambdaDeploymentGroup } from "aws-cdk-lib/aws-codedeploy";
import { type Grant, type IGrantable, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { Alias, Architecture, Code, Function as LambdaFunction, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { z } from "zod";
import type { configSchema } from "../../shared/config.js";
import { PURPOSE_CONTEXT_KEY } from "../../shared/credentials/cipher.js";
import { API_FUNCTIONS, CONSOLE_FUNCTION, WORKER_FUNCTIONS } from "../../shared/http/routes.js";

/** Every Lambda of the service, from the route table's lists: the stack deploys exactly these. */
export const FUNCTION_NAMES = [...WORKER_FUNCTIONS, ...API_FUNCTIONS, CONSOLE_FUNCTION] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** The alias every caller invokes; deployments shift it from the old version to the new one. */
export const LIVE_ALIAS = "live";

/** The runtime every function runs on; the bundles target Node 22 syntax, which Node 24 runs unchanged. */
export const FUNCTION_RUNTIME = Runtime.NODEJS_24_X;

/**
 * Environment variables a deployed function may be given: the names `shared/config.ts` reads, minus the local-only
 * endpoints, the region Lambda sets itself, and the plaintext secrets (in AWS those come from Secrets Manager).
 */
export type DeployedEnvName = Exclude<
  keyof z.input<typeof configSchema>,
  | "DYNAMODB_ENDPOINT"
  | "SQS_ENDPOINT"
  | "AWS_REGION"
  | "CURSOR_SECRET"
  | "PREVIOUS_CURSOR_SECRET"
  | "CREDENTIALS_KEY_FILE"
>;
export type FunctionEnvironment = Partial<Record<DeployedEnvName, string>>;

/** One bundle as `buildAll()` of esbuild.config.mjs returns it. */
export interface BuiltBundle {
  name: string;
  outfile: string;
  bytes: number;
}

/** The directory holding `index.mjs` (and its source map) of every function. */
export type BundleDirectories = Readonly<Record<FunctionName, string>>;

/**
 * Maps `buildAll()` results to bundle directories, and fails loudly when a function has no fresh bundle — a missing
 * `functions/<name>/handler.ts` must stop the synth, not deploy a stale or empty function.
 */
export function bundleDirectories(bundles: readonly BuiltBundle[]): BundleDirectories {
  const found = new Map(bundles.map((bundle) => [bundle.name, bundle]));
  const missing = FUNCTION_NAMES.filter((name) => {
    const bundle = found.get(name);
    return bundle === undefined || basename(bundle.outfile) !== "index.mjs" || !existsSync(bundle.outfile);
  });
  if (missing.length > 0) {
    throw new Error(
      `no bundle for ${missing.join(", ")}: each needs functions/<name>/handler.ts exporting \`handler\` (built by buildAll() of esbuild.config.mjs)`,
    );
  }
  return Object.fromEntries(
    FUNCTION_NAMES.map((name) => [name, dirname((found.get(name) as BuiltBundle).outfile)]),
  ) as Record<FunctionName, string>;
}

/** What a function needs to reach the table; DataStore implements it with least-privilege action lists. */
export interface TableAccess {
  readonly tableName: string;
  grantReadItems(grantee: IGrantable): Grant;
  grantReadWriteItems(grantee: IGrantable): Grant;
}

/** Defaults shared by every function of one stack. */
export interface FunctionDefaults {
  bundles: BundleDirectories;
  logRetention: RetentionDays;
  /** For the log groups: retained in production so an incident's logs outlive a stack deletion. */
  removalPolicy: RemovalPolicy;
  /** Non-resource settings every function reads (LOG_LEVEL, ALLOWED_ORIGINS…). */
  environment: FunctionEnvironment;
}

export interface AppFunctionProps {
  /** Which `functions/<name>/handler.ts` this is. */
  name: FunctionName;
  description: string;
  timeout: Duration;
  memorySize: number;
  defaults: FunctionDefaults;
}

/** A Lambda of this service: Node 24 on ARM64, the esbuild bundle, its own log group, role and X-Ray tracing. */
export class AppFunction extends Construct {
  readonly name: FunctionName;
  readonly function: LambdaFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  /** What callers invoke: API integrations, the authorizer, the event source mapping and the schedule target. */
  readonly alias: Alias;
  /** Set by deployWithCanary(). */
  deploymentGroup?: LambdaDeploymentGroup;

  constructor(scope: Construct, id: string, props: AppFunctionProps) {
    super(scope, id);
    this.name = props.name;
    const { defaults } = props;

    this.logGroup = new LogGroup(this, "Logs", {
      retention: defaults.logRetention,
      removalPolicy: defaults.removalPolicy,
    });
    // Our own role instead of the default one: the default attaches the AWS-managed AWSLambdaBasicExecutionRole,
    // which may write to every log group of the account; this one may write to its own log group only.
    this.role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `Execution role of the ${props.name} function`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new LambdaFunction(this, "Function", {
      description: props.description,
      runtime: FUNCTION_RUNTIME,
      architecture: Architecture.ARM_64,
      code: Code.fromAsset(defaults.bundles[props.name]),
      handler: "index.handler",
      timeout: props.timeout,
      memorySize: props.memorySize,
      role: this.role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      environment: { NODE_OPTIONS: "--enable-source-maps", ...defaults.environment },
    });
    // currentVersion hashes the function's final configuration at synthesis, so later environment changes count.
    this.alias = new Alias(this, "Live", { aliasName: LIVE_ALIAS, version: this.function.currentVersion });
    Validations.of(this.role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions; the infra tests assert that they are the only actions granted on *",
    });
  }

  /** Read-only item access (no write actions at all) and TABLE_NAME. */
  readTable(table: TableAccess): this {
    table.grantReadItems(this.role);
    return this.setEnvironment("TABLE_NAME", table.tableName);
  }

  /** Item reads and writes and TABLE_NAME. */
  writeTable(table: TableAccess): this {
    table.grantReadWriteItems(this.role);
    return this.setEnvironment("TABLE_NAME", table.tableName);
  }

  /** SendMessage on `queue` and its URL under `env` (QUEUE_URL for the sync queue, DLQ_URL for the DLQ). */
  sendTo(queue: IQueue, env: "QUEUE_URL" | "DLQ_URL"): this {
    queue.grantSendMessages(this.role);
    return this.setEnvironment(env, queue.queueUrl);
  }

  /** GetQueueAttributes on `queue`: the planner's backpressure reads its visible depth. */
  readQueueDepth(queue: IQueue): this {
    queue.grant(this.role, "sqs:GetQueueAttributes");
    return this;
  }

  /** GetSecretValue on the stack secret and its ARN: the secret's values never enter the environment. */
  readSecret(secret: ISecret): this {
    secret.grantRead(this.role);
    return this.setEnvironment("STACK_SECRET_ARN", secret.secretArn);
  }

  /**
   * The credentials key: `encrypt` (GenerateDataKey, to store a tenant's Waygate key or a webhook's signing secret) or
   * `decrypt` (to call the gateway with the key, or sign with the secret). Only the functions that need one of them
   * get it. Decrypt is limited by a condition on the encryption context (shared/credentials/cipher.ts): to the
   * ciphertexts of `purpose`, or, without one, to those stored without a purpose (tenants' Waygate keys), so no
   * function can read the other kind of secret.
   */
  useCredentialsKey(key: IKey, use: "encrypt" | "decrypt", purpose?: string): this {
    if (use === "encrypt") key.grant(this.role, "kms:GenerateDataKey");
    else {
      const context = `kms:EncryptionContext:${PURPOSE_CONTEXT_KEY}`;
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ["kms:Decrypt"],
          resources: [key.keyArn],
          conditions:
            purpose === undefined ? { Null: { [context]: "true" } } : { StringEquals: { [context]: purpose } },
        }),
      );
    }
    return this.setEnvironment("CREDENTIALS_KMS_KEY_ID", key.keyArn);
  }

  /**
   * Deploys new versions through CodeDeploy: 10% of invocations for 5 minutes, then all, rolled back automatically
   * when one of `alarms` fires during the canary (or the deployment fails).
   */
  deployWithCanary(alarms: IAlarm[]): LambdaDeploymentGroup {
    this.deploymentGroup = new LambdaDeploymentGroup(this, "Deployment", {
      alias: this.alias,
      deploymentConfig: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
      alarms,
      autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
    });
    Validations.of(this.deploymentGroup.role).acknowledge({
      id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]",
      reason:
        "CodeDeploy's service role for Lambda canaries: AWS's managed policy is the documented one and only shifts alias weights and reads the deployment's alarms",
    });
    return this.deploymentGroup;
  }

  /** A non-resource setting (e.g. GATEWAY_URL). */
  setEnvironment(name: DeployedEnvName, value: string): this {
    this.function.addEnvironment(name, value);
    return this;
  }
}
