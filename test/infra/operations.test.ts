/**
 * What operates the stack: every alarm (and that none watches one tenant's own problem), the metrics they watch being
 * the ones the code emits, the dashboard, the live aliases and their CodeDeploy canaries, the API's execution-log
 * group, and two stages synthesizing side by side with no physical name in common.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FUNCTION_NAMES } from "../../infra/constructs/app-function.js";
import { createMetrics, METRIC } from "../../shared/metrics.js";
import { recordPlannerMetrics } from "../../shared/sync/plan.js";
import {
  type CfnTemplate,
  logicalId,
  removeTemporaryDirectories,
  resourcesOfType,
  type Synthesized,
  synthesize,
} from "./support/synth.js";

let dev: Synthesized;
let prod: Synthesized;

beforeAll(async () => {
  dev = await synthesize({ context: { stage: "dev" } });
  prod = await synthesize({ context: { stage: "prod" }, bundles: dev.bundles });
});
afterAll(removeTemporaryDirectories);

type AlarmProps = Record<string, unknown> & {
  AlarmName?: string;
  MetricName?: string;
  Namespace?: string;
  Dimensions?: { Name: string; Value: unknown }[];
  Metrics?: {
    Id: string;
    Expression?: string;
    MetricStat?: { Metric: { MetricName: string; Dimensions?: unknown } };
  }[];
};

function alarms(json: CfnTemplate): AlarmProps[] {
  return resourcesOfType(json, "AWS::CloudWatch::Alarm").map(([, alarm]) => alarm.Properties as AlarmProps);
}

function alarmNamed(json: CfnTemplate, suffix: string): AlarmProps {
  const found = alarms(json).find((alarm) => String(alarm.AlarmName).endsWith(`-${suffix}`));
  if (!found) throw new Error(`no alarm named *-${suffix}`);
  return found;
}

/** Every metric name an alarm reads, directly or in its math. */
function metricNamesOf(alarm: AlarmProps): string[] {
  return [alarm.MetricName, ...(alarm.Metrics ?? []).map((m) => m.MetricStat?.Metric.MetricName)].filter(
    (name): name is string => name !== undefined,
  );
}

describe("alarms", () => {
  it("alarm on the outage share of syncs across tenants, from the metrics the worker emits, with the stage's dimensions", () => {
    const alarm = alarmNamed(dev.json, "SyncOutageRatio");
    expect(alarm.Metrics?.find((m) => m.Expression !== undefined)?.Expression).toMatch(
      /outage \/ \(completed \+ failed\)/,
    );
    expect(metricNamesOf(alarm).sort()).toEqual(
      [METRIC.outageFailures, METRIC.syncsCompleted, METRIC.syncsFailed].sort(),
    );
    for (const metric of alarm.Metrics ?? []) {
      if (!metric.MetricStat) continue;
      expect(metric.MetricStat.Metric.Dimensions).toEqual([
        { Name: "service", Value: "reference-data-sync" },
        { Name: "stage", Value: "dev" },
      ]);
    }
  });

  it("never alarm on one tenant's own credential or configuration problem", () => {
    for (const alarm of alarms(dev.json)) {
      const names = metricNamesOf(alarm);
      expect(names, String(alarm.AlarmName)).not.toContain(METRIC.partitionsPaused);
      expect(names, String(alarm.AlarmName)).not.toContain(METRIC.pauseEvents);
      expect(names, String(alarm.AlarmName)).not.toContain(METRIC.syncFailuresByKind);
      expect(JSON.stringify(alarm.Metrics ?? alarm.Dimensions), String(alarm.AlarmName)).not.toContain("credentials");
    }
  });

  it("watch the staleness metric exactly as the planner emits it (namespace, name, dimensions)", () => {
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let lines: string[];
    try {
      const metrics = createMetrics({ stage: "dev" });
      recordPlannerMetrics(metrics, {
        due: 1,
        claimed: 1,
        enqueued: 1,
        failed: 0,
        skipped: 0,
        paused: 0,
        resumed: 0,
        takenOver: 0,
        oldestOverdueSeconds: 42,
        sendBatchCalls: 1,
        stoppedEarly: false,
        queueDepth: 0,
        backpressure: false,
      });
      metrics.publish();
    } finally {
      lines = write.mock.calls.map(([line]) => String(line));
      write.mockRestore();
    }
    const emf = lines.map((line) => JSON.parse(line)).find((line) => line.StalenessSeconds !== undefined);
    const directive = emf._aws.CloudWatchMetrics[0];
    const alarm = alarmNamed(dev.json, "DataStaleness");
    expect(alarm.Namespace).toBe(directive.Namespace);
    expect(alarm.MetricName).toBe("StalenessSeconds");
    const alarmDimensions = Object.fromEntries((alarm.Dimensions ?? []).map((d) => [d.Name, d.Value]));
    expect(Object.keys(alarmDimensions).sort()).toEqual([...directive.Dimensions[0]].sort());
    for (const [name, value] of Object.entries(alarmDimensions)) expect(emf[name], name).toBe(value);
  });

  it("alarm on each new DLQ arrival, a DLQ that is not empty, and the sync queue's oldest message", () => {
    const { stack } = dev;
    const arrivals = alarmNamed(dev.json, "SyncDlqArrivals");
    // A rise of the DLQ's visible count (its last value carried over an idle gap), or a message the worker
    // dead-lettered itself.
    expect(arrivals.Metrics?.find((m) => m.Expression)?.Expression).toBe(
      "MAX([DIFF(FILL(visible, REPEAT)), FILL(sent, 0)])",
    );
    expect(JSON.stringify(arrivals.Metrics)).toContain(logicalId(stack.pipeline.deadLetterQueue));
    expect(metricNamesOf(arrivals)).toContain(METRIC.deadLettered);
    expect(arrivals).toMatchObject({
      Threshold: 0,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 1,
      ComparisonOperator: "GreaterThanThreshold",
    });
    expect(alarmNamed(dev.json, "SyncDlqNotEmpty")).toMatchObject({
      MetricName: "ApproximateNumberOfMessagesVisible",
      Threshold: 0,
    });
    const age = alarmNamed(dev.json, "SyncQueueAge");
    expect(age).toMatchObject({ MetricName: "ApproximateAgeOfOldestMessage", Threshold: 900 });
    expect(JSON.stringify(age.Dimensions)).toContain(logicalId(stack.pipeline.queue));
  });

  it("alarm on errors of every function and p99 latency of the API functions and the authorizer", () => {
    for (const name of FUNCTION_NAMES) {
      const errors = dev.stack.alarms.functionAlarms.get(name) ?? [];
      expect(errors.length, name).toBeGreaterThanOrEqual(1);
    }
    const errorAlarms = alarms(dev.json).filter((alarm) => alarm.MetricName === "Errors");
    expect(errorAlarms).toHaveLength(FUNCTION_NAMES.length);
    for (const alarm of errorAlarms) expect(JSON.stringify(alarm.Dimensions)).toContain(":live");
    const latency = alarms(dev.json).filter((alarm) => alarm.MetricName === "Duration");
    expect(latency.map((alarm) => alarm.ExtendedStatistic)).toEqual(["p99", "p99", "p99", "p99"]);
    expect(latency.map((alarm) => String(alarm.AlarmName).split("-").pop()).sort()).toEqual(
      ["ApiConfigLatencyP99", "ApiQueryLatencyP99", "ApiSyncLatencyP99", "AuthorizerLatencyP99"].sort(),
    );
  });

  it("alarm on the API's 5xx rate, DynamoDB throttles and a planner that stopped running", () => {
    expect(metricNamesOf(alarmNamed(dev.json, "Api5xxRate"))).toContain("5XXError");
    const throttles = alarmNamed(dev.json, "DynamoDbThrottles");
    expect(metricNamesOf(throttles).every((name) => name === "ThrottledRequests")).toBe(true);
    expect(metricNamesOf(throttles).length).toBeGreaterThan(1);
    expect(alarmNamed(dev.json, "PlannerNotRunning")).toMatchObject({
      MetricName: "Invocations",
      TreatMissingData: "breaching",
    });
  });

  it("notify the stage's topic on alarm and on recovery, every one of them", () => {
    const topic = { Ref: logicalId(dev.stack.alarms.topic) };
    const all = alarms(dev.json);
    expect(all).toHaveLength(dev.stack.alarms.all.length);
    for (const alarm of all) {
      expect(alarm.AlarmActions, String(alarm.AlarmName)).toEqual([topic]);
      expect(alarm.OKActions, String(alarm.AlarmName)).toEqual([topic]);
    }
  });
});

describe("dashboard", () => {
  it("shows outcomes, failures by kind, pauses by reason, gateway, queue, planner, functions, throttles and every alarm", () => {
    const [[, dashboard] = []] = resourcesOfType(dev.json, "AWS::CloudWatch::Dashboard");
    expect(dashboard?.Properties?.DashboardName).toBe("reference-data-sync-dev");
    const body = JSON.stringify(dashboard?.Properties?.DashboardBody);
    for (const expected of [
      METRIC.syncsCompleted,
      METRIC.outageFailures,
      `MetricName=\\\\\\"${METRIC.syncFailuresByKind}\\\\\\"`,
      `MetricName=\\\\\\"${METRIC.partitionsPaused}\\\\\\" service=`,
      `MetricName=\\\\\\"${METRIC.pauseEvents}\\\\\\"`,
      "Paused partitions by reason (now)",
      METRIC.gatewayLatency,
      METRIC.gatewayErrors,
      METRIC.discoveryFailures,
      METRIC.staleness,
      METRIC.takeOvers,
      "ApproximateAgeOfOldestMessage",
      "ThrottledRequests",
      "Duration",
    ]) {
      expect(body, expected).toContain(expected);
    }
    for (const alarm of dev.stack.alarms.all) expect(body).toContain(logicalId(alarm));
  });

  it("graphs the paused-partitions gauge as its largest value per period (a sum would add up planner runs)", () => {
    const [[, dashboard] = []] = resourcesOfType(dev.json, "AWS::CloudWatch::Dashboard");
    const body = JSON.stringify(dashboard?.Properties?.DashboardBody);
    const search = body.match(new RegExp(`MetricName=[^']*${METRIC.partitionsPaused}[^']*'[^)]*\\)`))?.[0];
    expect(search).toContain("'Maximum', 300)");
  });
});

describe("deployments", () => {
  it("puts every function behind a `live` alias deployed by a CodeDeploy canary, 10% for 5 minutes", () => {
    const aliases = resourcesOfType(dev.json, "AWS::Lambda::Alias");
    expect(aliases).toHaveLength(FUNCTION_NAMES.length);
    for (const [, alias] of aliases) expect(alias.Properties?.Name).toBe("live");
    const groups = resourcesOfType(dev.json, "AWS::CodeDeploy::DeploymentGroup");
    expect(groups).toHaveLength(FUNCTION_NAMES.length);
    for (const [id, group] of groups) {
      expect(group.Properties?.DeploymentConfigName, id).toBe("CodeDeployDefault.LambdaCanary10Percent5Minutes");
      const rollback = group.Properties?.AutoRollbackConfiguration as { Enabled: boolean; Events: string[] };
      expect(rollback.Enabled, id).toBe(true);
      expect(rollback.Events, id).toContain("DEPLOYMENT_STOP_ON_ALARM");
    }
  });

  it("rolls each function's canary back on that function's own alarms", () => {
    const groups = resourcesOfType(dev.json, "AWS::CodeDeploy::DeploymentGroup").map(([, group]) => group.Properties);
    for (const name of FUNCTION_NAMES) {
      const fnAlarms = dev.stack.alarms.functionAlarms.get(name) ?? [];
      const expected = fnAlarms.map((alarm) => ({ Name: { Ref: logicalId(alarm) } }));
      const group = groups.find(
        (props) =>
          JSON.stringify((props?.AlarmConfiguration as { Alarms: unknown })?.Alarms) === JSON.stringify(expected),
      );
      expect(group, name).toBeDefined();
      expect((group?.AlarmConfiguration as { Enabled?: boolean } | undefined)?.Enabled, name).toBe(true);
    }
  });

  it("creates the API's execution-log group with a retention, under the name API Gateway writes to", () => {
    const logs = dev.json.Resources[logicalId(dev.stack.restApi.executionLogs)];
    expect(logs?.Properties?.RetentionInDays).toBe(7);
    expect(JSON.stringify(logs?.Properties?.LogGroupName)).toContain("API-Gateway-Execution-Logs_");
    expect(JSON.stringify(logs?.Properties?.LogGroupName)).toContain(logicalId(dev.stack.restApi.api));
    const prodLogs = prod.json.Resources[logicalId(prod.stack.restApi.executionLogs)];
    expect(prodLogs?.Properties?.RetentionInDays).toBe(90);
    expect(prodLogs?.DeletionPolicy).toBe("Retain");
  });

  it("sizes the authorizer at 1024 MB: it sits in front of every uncached request", () => {
    const authorizer = dev.json.Resources[logicalId(dev.stack.restApi.authorizerFunction.function)];
    expect(authorizer?.Properties?.MemorySize).toBe(1024);
  });
});

describe("stages", () => {
  /** Physical names a stack sets itself, and the stage each function reports its metrics under. */
  function names(synth: Synthesized): string[] {
    const found: string[] = [synth.stack.stackName];
    for (const [, resource] of Object.entries(synth.json.Resources)) {
      const props = resource.Properties ?? {};
      for (const key of ["AlarmName", "DashboardName", "Name", "LogGroupName", "TopicName", "QueueName", "TableName"]) {
        if (key === "Name" && resource.Type !== "AWS::ApiGateway::RestApi") continue;
        if (props[key] !== undefined) found.push(`${key}=${JSON.stringify(props[key])}`);
      }
      const variables = (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
      if (variables?.STAGE !== undefined) found.push(`STAGE=${String(variables.STAGE)}`);
    }
    return found;
  }

  it("synthesize two stages side by side with no stack, API, alarm, dashboard, log group or metric stage in common", () => {
    const devNames = names(dev);
    const prodNames = new Set(names(prod));
    expect(dev.stack.stackName).toBe("ReferenceDataSync-dev");
    expect(prod.stack.stackName).toBe("ReferenceDataSync-prod");
    expect(devNames.filter((name) => name.startsWith("AlarmName=")).length).toBe(dev.stack.alarms.all.length);
    expect(devNames).toContain('Name="reference-data-sync-dev"');
    expect(devNames).toContain('DashboardName="reference-data-sync-dev"');
    expect(devNames).toContain("STAGE=dev");
    // A name built from a Ref (the execution-log group holds the REST API's ID) is unique per stack when deployed.
    expect(devNames.filter((name) => prodNames.has(name) && !name.includes('{"Ref":'))).toEqual([]);
  });

  it("protect only the production stage", () => {
    expect(prod.stack.terminationProtection).toBe(true);
    expect(dev.stack.terminationProtection).toBe(false);
    expect(prod.json.Resources[logicalId(prod.stack.store.table)]?.DeletionPolicy).toBe("Retain");
    expect(dev.json.Resources[logicalId(dev.stack.store.table)]?.DeletionPolicy).toBe("Delete");
  });
});
