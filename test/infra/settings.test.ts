/**
 * Context settings as `cdk deploy -c key=value` gives them (strings), the loud failure of a missing handler, and a
 * development stack (`-c dev=true`): deletable data, short log retention, no termination protection.
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
  return readStackSettings(new App({ context }).node);
}

describe("stack settings from CDK context", () => {
  it("reads cdk.json's context, and cdk.json names no key the stack does not know", () => {
    const context = cdkJsonContext();
    expect(Object.keys(context).filter((key) => !(key in stackSettingsSchema.shape))).toEqual([]);
    expect(settingsOf(context)).toMatchObject({
      dev: false,
      scheduleMinutes: 5,
      workerBatchSize: 5,
      workerMaxConcurrency: 10,
      allowedOrigins: [],
    });
  });

  it("accepts the strings of -c key=value", () => {
    const settings = settingsOf({
      dev: "true",
      scheduleMinutes: "15",
      workerBatchSize: "10",
      workerMaxConcurrency: "50",
      allowedOrigins: "https://app.waygate.example, https://admin.waygate.example",
      gatewayUrl: "https://gateway.example.com",
      alarmEmail: "oncall@example.com",
      stalenessAlarmMinutes: "120",
    });
    expect(settings).toMatchObject({
      dev: true,
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
    ["dev", "yes"],
    ["allowedOrigins", "ftp://files.example"],
    ["allowedOrigins", "https://app.waygate.example/"],
    ["gatewayUrl", "gateway.example.com"],
    ["alarmEmail", "not-an-address"],
  ])("rejects %s=%s with an error naming the key", (key, value) => {
    expect(() => settingsOf({ [key]: value })).toThrow(new RegExp(`invalid CDK context: .*${key}`));
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

describe("development stack (-c dev=true)", () => {
  let synth: Synthesized;
  let resources: Record<string, CfnResourceJson>;

  beforeAll(async () => {
    synth = await synthesize({
      context: {
        dev: "true",
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

  it("leaves the gateway URL to a deploy-time parameter when the context has none", () => {
    expect(synth.json.Parameters?.GatewayUrl).toMatchObject({ Type: "String", AllowedPattern: "^https?://[^\\s]+$" });
    expect(synth.json.Parameters?.GatewayUrl?.Default).toBeUndefined();
  });
});
