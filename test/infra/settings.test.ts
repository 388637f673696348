/**
 * Context settings as `cdk deploy -c key=value` gives them (strings), stages and where their settings come from, the
 * loud failures of a missing handler or gateway URL, and a development stage (`-c stage=dev`): deletable data, short
 * log retention, no termination protection.
 */
import { App } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuiltBundle, bundleDirectories, FUNCTION_NAMES } from "../../infra/constructs/app-function.js";
import { readStackSettings, stackSettingsSchema } from "../../infra/reference-data-stack.js";
import {
  type CfnResourceJson,
  cdkJsonContext,
  logicalId,
  removeTemporaryDirectories,
  resourcesOfType,
  type Synthesized,
  synthesize,
} from "./support/synth.js";

function settingsOf(context: Record<string, unknown>) {
  return readStackSettings(new App({ context: { gatewayUrl: "https://gateway.example.com", ...context } }).node);
}

describe("stack settings from CDK context", () => {
  it("reads cdk.json's context, and cdk.json names no key the stack does not know", () => {
    const context = cdkJsonContext();
    const known = new Set([...Object.keys(stackSettingsSchema.shape), "stage", "stages", "gatewayUrl"]);
    expect(Object.keys(context).filter((key) => !known.has(key))).toEqual([]);
    expect(settingsOf(context)).toMatchObject({
      stage: "dev",
      production: false,
      scheduleMinutes: 5,
      workerBatchSize: 2,
      workerMaxConcurrency: 50,
      allowedOrigins: [],
    });
    expect(settingsOf({ ...context, stage: "prod" })).toMatchObject({
      stage: "prod",
      production: true,
      workerMaxConcurrency: 100,
    });
  });

  it("makes a stage production only from context.stages, never from a command-line flag", () => {
    const stages = { prod: { production: true } };
    expect(settingsOf({ stages, stage: "prod" }).production).toBe(true);
    // An undeclared stage (a personal sandbox) is never production.
    expect(settingsOf({ stages, stage: "alice" }).production).toBe(false);
    expect(() => settingsOf({ stages, stage: "prod", production: "false" })).toThrow(
      /production: set it in cdk.json's context.stages.prod, never on the command line/,
    );
    expect(() => settingsOf({ stages, stage: "prod", dev: "true" })).toThrow(/the dev flag is gone/);
    // A stage's own settings win over the top-level ones.
    expect(
      settingsOf({ stage: "prod", stages: { prod: { scheduleMinutes: 10 } }, scheduleMinutes: "15" }),
    ).toMatchObject({ scheduleMinutes: 10 });
  });

  it("fails the synth with a message naming gatewayUrl when no gateway URL is given", () => {
    expect(() => readStackSettings(new App({ context: { stage: "qa" } }).node)).toThrow(
      /missing CDK context: gatewayUrl: .*-c gatewayUrl=https:\/\/… or set context\.stages\.qa\.gatewayUrl/,
    );
  });

  it("accepts the strings of -c key=value", () => {
    const settings = settingsOf({
      stage: "qa-2",
      scheduleMinutes: "15",
      workerBatchSize: "10",
      workerMaxConcurrency: "50",
      allowedOrigins: "https://app.waygate.example, https://admin.waygate.example",
      gatewayUrl: "https://gateway.example.com",
      alarmEmail: "oncall@example.com",
      stalenessAlarmMinutes: "120",
    });
    expect(settings).toMatchObject({
      stage: "qa-2",
      production: false,
      scheduleMinutes: 15,
      workerBatchSize: 10,
      workerMaxConcurrency: 50,
      allowedOrigins: ["https://app.waygate.example", "https://admin.waygate.example"],
      gatewayUrl: "https://gateway.example.com",
      alarmEmail: "oncall@example.com",
      stalenessAlarmMinutes: 120,
    });
    expect(settingsOf({ allowedOrigins: '["https://app.waygate.example"]' }).allowedOrigins).toEqual([
      "https://app.waygate.example",
    ]);
  });

  it.each([
    ["scheduleMinutes", "0"],
    ["scheduleMinutes", "five"],
    ["workerBatchSize", "11"],
    ["workerMaxConcurrency", "1"],
    ["stage", "Prod"],
    ["stage", "a#b"],
    ["allowedOrigins", "ftp://files.example"],
    ["allowedOrigins", "https://app.waygate.example/"],
    ["gatewayUrl", "gateway.example.com"],
    ["alarmEmail", "not-an-address"],
  ])("rejects %s=%s with an error naming the key", (key, value) => {
    expect(() => settingsOf({ [key]: value })).toThrow(new RegExp(`invalid CDK context.*: .*${key}`));
  });
});

describe("bundles", () => {
  it("fails loudly, naming it, when a function has no handler bundle", () => {
    const bundles: BuiltBundle[] = FUNCTION_NAMES.filter((name) => name !== "planner").map((name) => ({
      name,
      outfile: `/nonexistent/${name}/index.mjs`,
      bytes: 1,
    }));
    expect(() => bundleDirectories(bundles)).toThrow(/no bundle for .*planner.*functions\/<name>\/handler\.ts/);
  });
});

describe("development stage (-c stage=dev)", () => {
  let synth: Synthesized;
  let resources: Record<string, CfnResourceJson>;

  beforeAll(async () => {
    synth = await synthesize({
      context: {
        stage: "dev",
        scheduleMinutes: "15",
        workerBatchSize: "10",
        workerMaxConcurrency: "50",
        apiGatewayCloudWatchRole: "false",
      },
    });
    resources = synth.json.Resources;
  });
  afterAll(removeTemporaryDirectories);

  it("lets the table, the secret, the DLQ and the logs go with the stack", () => {
    const { stack } = synth;
    const table = resources[logicalId(stack.store.table)];
    expect(table?.DeletionPolicy).toBe("Delete");
    expect(table?.Properties?.DeletionProtectionEnabled).toBe(false);
    // Point-in-time recovery stays on: it is cheap, and dev data is still someone's afternoon.
    expect(table?.Properties?.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(resources[logicalId(stack.store.secret)]?.DeletionPolicy).toBe("Delete");
    expect(resources[logicalId(stack.pipeline.deadLetterQueue)]?.DeletionPolicy).toBe("Delete");
    for (const [id, logs] of resourcesOfType(synth.json, "AWS::Logs::LogGroup")) {
      expect(logs.DeletionPolicy, id).toBe("Delete");
      expect(logs.Properties?.RetentionInDays, id).toBe(7);
    }
    expect(stack.terminationProtection).toBe(false);
  });

  it("takes the schedule, batch size and worker concurrency from context", () => {
    synth.template.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(15 minutes)" });
    synth.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 50 },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    // Planner alarms are judged per schedule period.
    synth.template.hasResourceProperties("AWS::CloudWatch::Alarm", { MetricName: "Invocations", Period: 900 });
  });

  it("configures no CORS when no origin is allowed", () => {
    const preflights = resourcesOfType(synth.json, "AWS::ApiGateway::Method").filter(
      ([, m]) => m.Properties?.HttpMethod === "OPTIONS",
    );
    expect(preflights).toEqual([]);
    for (const [id, response] of resourcesOfType(synth.json, "AWS::ApiGateway::GatewayResponse")) {
      expect(JSON.stringify(response.Properties?.ResponseParameters ?? {}), id).not.toContain("Allow-Origin");
    }
  });

  it("leaves the account's API Gateway logging role alone when told to", () => {
    expect(resourcesOfType(synth.json, "AWS::ApiGateway::Account")).toEqual([]);
    synth.template.hasResourceProperties("AWS::ApiGateway::Stage", {
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  it("has no CloudFormation parameter: the gateway URL comes from context", () => {
    expect(synth.json.Parameters ?? {}).not.toHaveProperty("GatewayUrl");
  });
});
