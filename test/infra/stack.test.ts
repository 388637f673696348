/**
 * Security-relevant properties of the synthesized production stage (`-c stage=prod`, cdk.json's context plus CORS for
 * one origin): encryption, TLS-only queues and topic, PITR and retention of the data, least-privilege IAM per function,
 * DLQ wiring, partial batch responses, the schedule, the authorizer on every route but health/openapi, the function
 * runtime, and API Gateway's own errors in the service's envelope.
 */
import { Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_NAMES, type FunctionName } from "../../infra/constructs/app-function.js";
import { TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS } from "../../infra/constructs/data-store.js";
import { GATEWAY_ERROR_RESPONSES } from "../../infra/constructs/rest-api.js";
import type { ReferenceDataStack } from "../../infra/reference-data-stack.js";
import { errorEnvelopeSchema } from "../../shared/http/envelope.js";
import { ROUTES } from "../../shared/http/routes.js";
import { TABLE_DEFINITION } from "../../shared/storage/table.js";
import {
  allowedActions,
  type CfnResourceJson,
  type CfnTemplate,
  logicalId,
  removeTemporaryDirectories,
  resourcesOfType,
  roleStatements,
  type Synthesized,
  synthesize,
} from "./support/synth.js";

const ORIGIN = "https://app.waygate.example";
let synth: Synthesized;
let json: CfnTemplate;
let stack: ReferenceDataStack;

beforeAll(async () => {
  synth = await synthesize({
    context: { stage: "prod", allowedOrigins: [ORIGIN], gatewayUrl: "https://gateway.example.com" },
  });
  json = synth.json;
  stack = synth.stack;
});
afterAll(removeTemporaryDirectories);

function resource(id: string): CfnResourceJson {
  const found = json.Resources[id];
  if (found === undefined) throw new Error(`no resource ${id} in the template`);
  return found;
}

function appFunction(name: FunctionName) {
  const functions = {
    planner: stack.pipeline.planner,
    "sync-worker": stack.pipeline.worker,
    authorizer: stack.restApi.authorizerFunction,
    "webhook-deliverer": stack.consumers.deliverer,
    console: stack.restApi.consoleFunction,
    ...stack.restApi.functions,
  };
  return functions[name];
}

function functionProps(name: FunctionName): Record<string, unknown> {
  return resource(logicalId(appFunction(name).function)).Properties ?? {};
}

function actionsOf(name: FunctionName): Set<string> {
  return allowedActions(json, logicalId(appFunction(name).role));
}

const WRITE_ACTIONS: readonly string[] = [
  ...TABLE_WRITE_ACTIONS,
  "dynamodb:TransactWriteItems",
  "dynamodb:PartiQLInsert",
  "dynamodb:PartiQLUpdate",
  "dynamodb:PartiQLDelete",
];

describe("data store", () => {
  it("builds the table from TABLE_DEFINITION: on-demand, GSI1, GSI2 keys only, TTL on expiresAt, PITR, KMS encryption", () => {
    const { partitionKey, sortKey, ttlAttribute, dueIndex, pausedIndex } = TABLE_DEFINITION;
    synth.template.hasResourceProperties("AWS::DynamoDB::Table", {
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [
        { AttributeName: partitionKey, KeyType: "HASH" },
        { AttributeName: sortKey, KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: dueIndex.name,
          KeySchema: [
            { AttributeName: dueIndex.partitionKey, KeyType: "HASH" },
            { AttributeName: dueIndex.sortKey, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        },
        {
          IndexName: pausedIndex.name,
          KeySchema: [
            { AttributeName: pausedIndex.partitionKey, KeyType: "HASH" },
            { AttributeName: pausedIndex.sortKey, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
      ],
      TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it("protects the production table from deletion and keeps it when the stack goes", () => {
    const table = resource(logicalId(stack.store.table));
    expect(table.Properties?.DeletionProtectionEnabled).toBe(true);
    expect(table.DeletionPolicy).toBe("Retain");
    expect(table.UpdateReplacePolicy).toBe("Retain");
    expect(stack.terminationProtection).toBe(true);
  });

  it("generates the cursor key in the stack secret, which holds nothing else (no gateway token)", () => {
    const secret = resource(logicalId(stack.store.secret));
    expect(secret.Properties?.GenerateSecretString).toMatchObject({
      SecretStringTemplate: JSON.stringify({}),
      GenerateStringKey: "cursorSecret",
      PasswordLength: 64,
    });
    expect(JSON.stringify(secret.Properties)).not.toMatch(/gatewayToken/i);
    expect(secret.DeletionPolicy).toBe("Retain");
  });

  it("keeps tenants' Waygate keys under a rotating KMS key that is retained with a production stack", () => {
    const key = resource(logicalId(stack.store.credentialsKey));
    expect(key.Properties?.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe("Retain");
  });
});

describe("sync pipeline", () => {
  it("encrypts both queues and denies non-TLS access to them", () => {
    for (const queue of [stack.pipeline.queue, stack.pipeline.deadLetterQueue]) {
      expect(resource(logicalId(queue)).Properties?.SqsManagedSseEnabled).toBe(true);
    }
    const policies = resourcesOfType(json, "AWS::SQS::QueuePolicy");
    for (const queue of [stack.pipeline.queue, stack.pipeline.deadLetterQueue]) {
      const ref = { Ref: logicalId(queue) };
      const policy = policies.find(([, p]) => JSON.stringify(p.Properties?.Queues) === JSON.stringify([ref]));
      expect(policy, `TLS policy of ${logicalId(queue)}`).toBeDefined();
      expect(JSON.stringify(policy?.[1].Properties?.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it("redrives to the DLQ after 5 receives and keeps dead letters 14 days", () => {
    const queue = resource(logicalId(stack.pipeline.queue));
    expect(queue.Properties?.RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [logicalId(stack.pipeline.deadLetterQueue), "Arn"] },
      maxReceiveCount: 5,
    });
    expect(resource(logicalId(stack.pipeline.deadLetterQueue)).Properties?.MessageRetentionPeriod).toBe(14 * 86_400);
  });

  it("keeps messages invisible for at least 6 worker timeouts", () => {
    const workerTimeout = functionProps("sync-worker").Timeout as number;
    const visibility = resource(logicalId(stack.pipeline.queue)).Properties?.VisibilityTimeout as number;
    expect(workerTimeout).toBeGreaterThan(0);
    expect(visibility).toBeGreaterThanOrEqual(6 * workerTimeout);
  });

  it("feeds the worker's live alias from the queue with partial batch responses, sized for the production stage", () => {
    synth.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [logicalId(stack.pipeline.queue), "Arn"] },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BatchSize: 2,
      // cdk.json's context.stages.prod.
      ScalingConfig: { MaximumConcurrency: 100 },
    });
    // The worker's and the webhook deliverer's (its own queue).
    synth.template.resourceCountIs("AWS::Lambda::EventSourceMapping", 2);
    const mapping = resourcesOfType(json, "AWS::Lambda::EventSourceMapping").find(
      ([, m]) =>
        JSON.stringify(m.Properties?.EventSourceArn) ===
        JSON.stringify({ "Fn::GetAtt": [logicalId(stack.pipeline.queue), "Arn"] }),
    )?.[1];
    const target = JSON.stringify(mapping?.Properties?.FunctionName);
    expect(target).toContain(`"${logicalId(stack.pipeline.worker.alias)}"`);
    expect(target).toContain(":live");
  });

  it("runs the planner's live alias every 5 minutes on an EventBridge schedule", () => {
    synth.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(5 minutes)",
      State: "ENABLED",
      Targets: [Match.objectLike({ Arn: { Ref: logicalId(stack.pipeline.planner.alias) } })],
    });
  });
});

describe("functions", () => {
  it("deploys exactly the seven functions, each on Node 24 ARM64 with X-Ray, source maps and its own log group", () => {
    const functions = resourcesOfType(json, "AWS::Lambda::Function");
    expect(functions.map(([id]) => id).sort()).toEqual(
      FUNCTION_NAMES.map((name) => logicalId(appFunction(name).function)).sort(),
    );
    for (const name of FUNCTION_NAMES) {
      const props = functionProps(name);
      expect(props.Runtime, name).toBe("nodejs24.x");
      expect(props.Architectures, name).toEqual(["arm64"]);
      expect(props.Handler, name).toBe("index.handler");
      expect(props.TracingConfig, name).toEqual({ Mode: "Active" });
      expect(props.LoggingConfig, name).toEqual({ LogGroup: { Ref: logicalId(appFunction(name).logGroup) } });
      expect((props.Environment as { Variables: Record<string, unknown> }).Variables.NODE_OPTIONS, name).toBe(
        "--enable-source-maps",
      );
    }
  });

  it("keeps function logs 90 days and retains them with a production stack", () => {
    for (const name of FUNCTION_NAMES) {
      const logs = resource(logicalId(appFunction(name).logGroup));
      expect(logs.Properties?.RetentionInDays, name).toBe(90);
      expect(logs.DeletionPolicy, name).toBe("Retain");
    }
  });

  it("never puts a secret value in an environment variable", () => {
    for (const name of FUNCTION_NAMES) {
      const variables = (functionProps(name).Environment as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(variables), name).not.toContain("GATEWAY_TOKEN");
      expect(Object.keys(variables), name).not.toContain("CURSOR_SECRET");
      expect(Object.keys(variables), name).not.toContain("CREDENTIALS_KEY_FILE");
    }
    const worker = (functionProps("sync-worker").Environment as { Variables: Record<string, unknown> }).Variables;
    // No deployment-wide gateway token: the worker reads tenants' keys from the table and decrypts them with KMS.
    expect(worker).not.toHaveProperty("STACK_SECRET_ARN");
    expect(worker.CREDENTIALS_KMS_KEY_ID).toEqual({ "Fn::GetAtt": [logicalId(stack.store.credentialsKey), "Arn"] });
  });

  it("names in each function's environment exactly the resources it is granted", () => {
    const expected: Record<FunctionName, string[]> = {
      planner: ["QUEUE_URL", "TABLE_NAME"],
      "sync-worker": ["CREDENTIALS_KMS_KEY_ID", "DLQ_URL", "EVENT_BUS_NAME", "GATEWAY_URL", "QUEUE_URL", "TABLE_NAME"],
      authorizer: ["TABLE_NAME"],
      "webhook-deliverer": ["CREDENTIALS_KMS_KEY_ID", "STACK_SECRET_ARN", "TABLE_NAME", "WEBHOOK_QUEUE_URL"],
      "api-query": ["STACK_SECRET_ARN", "TABLE_NAME"],
      "api-sync": ["STACK_SECRET_ARN", "QUEUE_URL", "TABLE_NAME"],
      "api-config": ["CREDENTIALS_KMS_KEY_ID", "GATEWAY_URL", "STACK_SECRET_ARN", "QUEUE_URL", "TABLE_NAME"],
      console: [],
    };
    const common = ["ALLOWED_ORIGINS", "LOG_LEVEL", "NODE_OPTIONS", "STAGE"];
    for (const name of FUNCTION_NAMES) {
      const variables = (functionProps(name).Environment as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(variables).sort(), name).toEqual([...common, ...expected[name]].sort());
      expect(variables.ALLOWED_ORIGINS, name).toBe(ORIGIN);
    }
  });
});

describe("least-privilege IAM", () => {
  it("gives the query function and the authorizer no write action of any kind", () => {
    for (const name of ["api-query", "authorizer"] as const) {
      const actions = [...actionsOf(name)];
      for (const write of WRITE_ACTIONS) expect(actions, name).not.toContain(write);
      expect(
        actions.filter((action) => action.startsWith("sqs:") || action.startsWith("sns:")),
        name,
      ).toEqual([]);
      expect(actions, name).toEqual(expect.arrayContaining([...TABLE_READ_ACTIONS]));
    }
    expect(actionsOf("authorizer").has("secretsmanager:GetSecretValue")).toBe(false);
  });

  it("grants each function exactly its table, queue and secret access", () => {
    const base = ["logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"];
    const read = [...TABLE_READ_ACTIONS];
    const write = [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS];
    const send = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"];
    const consume = ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage"];
    const secret = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"];
    const expected: Record<FunctionName, string[]> = {
      planner: [...base, ...write, ...send],
      "sync-worker": [...base, ...write, ...send, ...consume, "kms:Decrypt", "events:PutEvents", "dynamodb:Scan"],
      authorizer: [...base, ...read],
      "webhook-deliverer": [
        ...base,
        ...read,
        ...consume,
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        ...secret,
        "kms:Decrypt",
      ],
      "api-query": [...base, ...read, ...secret],
      "api-sync": [...base, ...write, ...send, ...secret],
      "api-config": [...base, ...write, ...send, ...secret, "kms:GenerateDataKey"],
      console: base,
    };
    for (const name of FUNCTION_NAMES) {
      expect([...actionsOf(name)].sort(), name).toEqual([...new Set(expected[name])].sort());
    }
  });

  it("scopes table access to the table and its due index, with no wildcard; only the planner may Query the paused index", () => {
    const table = logicalId(stack.store.table);
    const indexArn = (index: string) => ({ "Fn::Join": ["", [{ "Fn::GetAtt": [table, "Arn"] }, `/index/${index}`]] });
    const expected = [{ "Fn::GetAtt": [table, "Arn"] }, indexArn(TABLE_DEFINITION.dueIndex.name)];
    const pausedIndex = indexArn(TABLE_DEFINITION.pausedIndex.name);
    for (const name of FUNCTION_NAMES) {
      const statements = roleStatements(json, logicalId(appFunction(name).role)).filter((s) =>
        [s.Action].flat().some((action) => action.startsWith("dynamodb:")),
      );
      // The console serves static files: it has no table access at all.
      expect(statements.length > 0, name).toBe(name !== "console");
      const onPausedIndex = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify(pausedIndex));
      expect(
        onPausedIndex.map((s) => s.Action),
        name,
      ).toEqual(name === "planner" ? ["dynamodb:Query"] : []);
      for (const statement of statements) {
        if (!onPausedIndex.includes(statement)) expect(statement.Resource, name).toEqual(expected);
      }
    }
  });

  it("lets the worker alone send to the DLQ, and scopes queue access to the queues", () => {
    const dlqArn = { "Fn::GetAtt": [logicalId(stack.pipeline.deadLetterQueue), "Arn"] };
    const queueArn = { "Fn::GetAtt": [logicalId(stack.pipeline.queue), "Arn"] };
    for (const name of FUNCTION_NAMES.filter((n) => n !== "webhook-deliverer")) {
      const sqs = roleStatements(json, logicalId(appFunction(name).role)).filter((s) =>
        [s.Action].flat().some((action) => action.startsWith("sqs:")),
      );
      const resources = sqs.map((s) => JSON.stringify(s.Resource));
      expect(
        resources.every((r) => r === JSON.stringify(dlqArn) || r === JSON.stringify(queueArn)),
        name,
      ).toBe(true);
      expect(resources.includes(JSON.stringify(dlqArn)), name).toBe(name === "sync-worker");
    }
  });

  it("allows a * resource only for the X-Ray actions, which have no resource-level permissions", () => {
    for (const [id, policy] of resourcesOfType(json, "AWS::IAM::Policy")) {
      const document = policy.Properties?.PolicyDocument as {
        Statement: { Action: string | string[]; Resource: unknown }[];
      };
      for (const statement of document.Statement) {
        const resources = [statement.Resource].flat();
        if (!resources.includes("*")) continue;
        expect([statement.Action].flat().sort(), id).toEqual(["xray:PutTelemetryRecords", "xray:PutTraceSegments"]);
      }
    }
  });

  it("attaches no managed policy to any function role", () => {
    for (const name of FUNCTION_NAMES) {
      expect(resource(logicalId(appFunction(name).role)).Properties?.ManagedPolicyArns, name).toBeUndefined();
    }
  });
});

describe("REST API", () => {
  function methodOf(operationId: string): Record<string, unknown> {
    const method = stack.restApi.methods.get(operationId);
    if (method === undefined) throw new Error(`no method for ${operationId}`);
    return resource(logicalId(method)).Properties ?? {};
  }

  it("has one method per route, each integrated with the live alias of the function the route names", () => {
    const methods = resourcesOfType(json, "AWS::ApiGateway::Method").filter(
      ([, m]) => m.Properties?.HttpMethod !== "OPTIONS",
    );
    expect(methods).toHaveLength(ROUTES.length + stack.restApi.consoleMethods.length);
    for (const route of ROUTES) {
      const method = methodOf(route.operationId);
      expect(method.HttpMethod, route.operationId).toBe(route.method);
      const integration = method.Integration as { Type: string; Uri: unknown };
      expect(integration.Type, route.operationId).toBe("AWS_PROXY");
      expect(JSON.stringify(integration.Uri), route.operationId).toContain(
        `"${logicalId(appFunction(route.function).alias)}"`,
      );
    }
  });

  it("puts the REQUEST authorizer on every route but health and openapi", () => {
    const authorizerId = { Ref: logicalId(stack.restApi.node.findChild("Authorizer")) };
    const publicRoutes = ROUTES.filter((route) => route.auth === "public").map((route) => route.operationId);
    expect(publicRoutes.sort()).toEqual(["health", "openapi"]);
    for (const route of ROUTES) {
      const method = methodOf(route.operationId);
      if (route.auth === "public") {
        expect(method.AuthorizationType, route.operationId).toBe("NONE");
        expect(method.AuthorizerId, route.operationId).toBeUndefined();
      } else {
        expect(method.AuthorizationType, route.operationId).toBe("CUSTOM");
        expect(method.AuthorizerId, route.operationId).toEqual(authorizerId);
      }
    }
  });

  it("serves the admin console at GET /console and /console/{asset}, public, from the console function alone", () => {
    const consoleFn = `"${logicalId(stack.restApi.consoleFunction.alias)}"`;
    const methods = stack.restApi.consoleMethods.map((method) => resource(logicalId(method)).Properties ?? {});
    expect(methods.map((m) => m.HttpMethod)).toEqual(["GET", "GET"]);
    for (const method of methods) {
      expect(method.AuthorizationType).toBe("NONE");
      expect(JSON.stringify((method.Integration as { Uri: unknown }).Uri)).toContain(consoleFn);
    }
    expect(methods[1]?.RequestParameters).toEqual({ "method.request.path.asset": true });
    const integrated = resourcesOfType(json, "AWS::ApiGateway::Method").filter(([, m]) =>
      JSON.stringify((m.Properties?.Integration as { Uri?: unknown } | undefined)?.Uri ?? "").includes(consoleFn),
    );
    expect(integrated).toHaveLength(2);
    expect(JSON.stringify(json.Outputs?.ConsoleUrl?.Value)).toContain("/console");
  });

  it("caches the authorizer's answer 60 s by the Authorization header", () => {
    synth.template.hasResourceProperties("AWS::ApiGateway::Authorizer", {
      Type: "REQUEST",
      IdentitySource: "method.request.header.Authorization",
      AuthorizerResultTtlInSeconds: 60,
    });
  });

  it("validates requests: path parameters on every templated route, the body of putSource", () => {
    synth.template.hasResourceProperties("AWS::ApiGateway::RequestValidator", {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    for (const route of ROUTES) {
      const method = methodOf(route.operationId);
      expect(method.RequestValidatorId, route.operationId).toBeDefined();
      for (const [, name] of route.path.matchAll(/\{([^}]+)\}/g)) {
        expect(method.RequestParameters, route.operationId).toMatchObject({ [`method.request.path.${name}`]: true });
      }
    }
    expect(methodOf("putSource").RequestModels).toEqual({ "application/json": expect.anything() });
    synth.template.hasResourceProperties("AWS::ApiGateway::Model", {
      Schema: Match.objectLike({ required: ["integrationSlug", "actionSlug", "referenceData"] }),
    });
  });

  it("throttles the stage, traces it, logs errors without request data, and writes JSON access logs", () => {
    synth.template.hasResourceProperties("AWS::ApiGateway::Stage", {
      StageName: "prod",
      TracingEnabled: true,
      MethodSettings: [
        Match.objectLike({
          HttpMethod: "*",
          ResourcePath: "/*",
          ThrottlingRateLimit: 50,
          ThrottlingBurstLimit: 100,
          LoggingLevel: "ERROR",
          DataTraceEnabled: false,
        }),
      ],
      AccessLogSetting: {
        DestinationArn: { "Fn::GetAtt": [logicalId(stack.restApi.accessLogs), "Arn"] },
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
    });
  });

  it("sets the account's API Gateway logging role by default, which access logs need", () => {
    synth.template.resourceCountIs("AWS::ApiGateway::Account", 1);
  });

  it("answers CORS preflights for the configured origin only", () => {
    const preflights = resourcesOfType(json, "AWS::ApiGateway::Method").filter(
      ([, m]) => m.Properties?.HttpMethod === "OPTIONS",
    );
    expect(preflights.length).toBeGreaterThan(0);
    for (const [, preflight] of preflights) {
      expect(preflight.Properties?.AuthorizationType).toBe("NONE");
      expect(JSON.stringify(preflight.Properties?.Integration)).toContain(`'${ORIGIN}'`);
    }
  });

  /** The body API Gateway sends: its request id and its own message (a quoted JSON string) substituted. */
  function renderGatewayBody(props: Record<string, unknown>, message: string): unknown {
    const templates = props.ResponseTemplates as Record<string, string> | undefined;
    const template = templates?.["application/json"];
    if (template === undefined) throw new Error(`gateway response ${String(props.ResponseType)} has no JSON template`);
    return JSON.parse(
      template
        .replaceAll("$context.requestId", "c0ffee00-0000-4000-8000-000000000000")
        .replaceAll("$context.error.messageString", JSON.stringify(message)),
    );
  }

  it("rewrites API Gateway's own errors to the service's error envelope", () => {
    const responses = resourcesOfType(json, "AWS::ApiGateway::GatewayResponse").map(([, r]) => r.Properties ?? {});
    expect(responses.map((r) => r.ResponseType).sort()).toEqual(GATEWAY_ERROR_RESPONSES.map((r) => r.type).sort());
    const statusAndCode = new Map<string, [unknown, string]>();
    for (const props of responses) {
      // A message with quotes must still give valid JSON.
      const envelope = errorEnvelopeSchema.parse(renderGatewayBody(props, 'Unsupported "thing"'));
      expect(envelope.error.requestId).toBe("c0ffee00-0000-4000-8000-000000000000");
      const headers = props.ResponseParameters as Record<string, string>;
      expect(headers["gatewayresponse.header.Access-Control-Allow-Origin"]).toBe(`'${ORIGIN}'`);
      statusAndCode.set(props.ResponseType as string, [props.StatusCode, envelope.error.code]);
    }
    expect(statusAndCode.get("UNAUTHORIZED")).toEqual(["401", "INVALID_API_KEY"]);
    expect(statusAndCode.get("ACCESS_DENIED")).toEqual(["401", "INVALID_API_KEY"]);
    expect(statusAndCode.get("MISSING_AUTHENTICATION_TOKEN")).toEqual(["404", "NOT_FOUND"]);
    expect(statusAndCode.get("BAD_REQUEST_BODY")).toEqual(["400", "VALIDATION_ERROR"]);
    expect(statusAndCode.get("THROTTLED")).toEqual(["429", "RATE_LIMITED"]);
    // The defaults keep API Gateway's own status: a 4xx stays a 4xx, never a 500.
    expect(statusAndCode.get("DEFAULT_4XX")).toEqual([undefined, "INVALID_REQUEST"]);
    expect(statusAndCode.get("DEFAULT_5XX")).toEqual([undefined, "INTERNAL_ERROR"]);
  });
});

describe("alarms and outputs", () => {
  it("sends every alarm, on alarm and on recovery, to one KMS-encrypted, TLS-only topic", () => {
    const topic = logicalId(stack.alarms.topic);
    expect(resource(topic).Properties?.KmsMasterKeyId).toEqual({
      "Fn::GetAtt": [logicalId(stack.node.findChild("Alarms").node.findChild("TopicKey")), "Arn"],
    });
    const alarms = resourcesOfType(json, "AWS::CloudWatch::Alarm");
    expect(alarms).toHaveLength(stack.alarms.all.length);
    expect(alarms.length).toBeGreaterThanOrEqual(15);
    for (const [id, alarm] of alarms) {
      expect(alarm.Properties?.AlarmActions, id).toEqual([{ Ref: topic }]);
      expect(alarm.Properties?.OKActions, id).toEqual([{ Ref: topic }]);
    }
    const topicPolicy = resourcesOfType(json, "AWS::SNS::TopicPolicy")[0]?.[1];
    expect(JSON.stringify(topicPolicy?.Properties?.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
  });

  it("outputs the API URL, table name, queue URL, alarm topic and stack secret", () => {
    expect(Object.keys(json.Outputs ?? {})).toEqual(
      expect.arrayContaining(["ApiUrl", "TableName", "QueueUrl", "AlarmTopicArn", "StackSecretArn"]),
    );
    expect(json.Outputs?.TableName?.Value).toEqual({ Ref: logicalId(stack.store.table) });
    expect(Object.keys(json.Outputs ?? {})).not.toContain("GatewaySecretArn");
  });

  it("puts the gateway URL from context into the worker's environment, with no CloudFormation parameter", () => {
    const worker = (functionProps("sync-worker").Environment as { Variables: Record<string, unknown> }).Variables;
    expect(worker.GATEWAY_URL).toBe("https://gateway.example.com");
    expect(json.Parameters?.GatewayUrl).toBeUndefined();
  });
});
