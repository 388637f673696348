/**
 * Events and webhooks in the synthesized stack: a bus the stack creates (or one named by context), PutEvents for the
 * worker alone, a rule for this service's events to the webhook queue, a DLQ after about a day of retries, and the
 * deliverer on that queue with partial batch responses, allowed to decrypt webhook signing secrets and nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_NAMES } from "../../infra/constructs/app-function.js";
import { DELIVERY_MAX_RECEIVES, deliveryBackoffSeconds } from "../../shared/webhooks/deliver.js";
import { WEBHOOK_SECRET_PURPOSE } from "../../shared/webhooks/webhooks.js";
import {
  allowedActions,
  logicalId,
  removeTemporaryDirectories,
  resourcesOfType,
  roleStatements,
  type Synthesized,
  synthesize,
} from "./support/synth.js";

let synth: Synthesized;
let named: Synthesized;
beforeAll(async () => {
  synth = await synthesize({ context: { gatewayUrl: "https://gateway.example.com" } });
  named = await synthesize({ context: { gatewayUrl: "https://gateway.example.com", eventBusName: "shared-bus" } });
});
afterAll(removeTemporaryDirectories);

/** The KMS statements of `role`'s policies. */
function kmsStatements(role: Parameters<typeof logicalId>[0]) {
  return roleStatements(synth.json, logicalId(role)).filter((s) =>
    [s.Action].flat().some((action) => action.startsWith("kms:")),
  );
}

describe("events and webhooks", () => {
  it("creates a bus and lets only the sync worker put events on it", () => {
    expect(resourcesOfType(synth.json, "AWS::Events::EventBus")).toHaveLength(1);
    const functions = synth.stack.consumers;
    const worker = synth.stack.pipeline.worker;
    for (const name of FUNCTION_NAMES) {
      const role =
        name === "sync-worker"
          ? worker.role
          : name === "webhook-deliverer"
            ? functions.deliverer.role
            : name === "planner"
              ? synth.stack.pipeline.planner.role
              : name === "authorizer"
                ? synth.stack.restApi.authorizerFunction.role
                : name === "console"
                  ? synth.stack.restApi.consoleFunction.role
                  : synth.stack.restApi.functions[name].role;
      expect(allowedActions(synth.json, logicalId(role)).has("events:PutEvents"), name).toBe(name === "sync-worker");
    }
    const env = synth.json.Resources[logicalId(worker.function)]?.Properties?.Environment as {
      Variables: Record<string, unknown>;
    };
    expect(env.Variables.EVENT_BUS_NAME).toEqual({ Ref: logicalId(functions.bus as never) });
  });

  it("lets the deliverer decrypt webhook signing secrets with the credentials key, and not tenants' Waygate keys", () => {
    const { deliverer } = synth.stack.consumers;
    const key = { "Fn::GetAtt": [logicalId(synth.stack.store.credentialsKey), "Arn"] };
    const kms = kmsStatements(deliverer.role);

    expect(kms).toEqual([
      {
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: key,
        Condition: { StringEquals: { "kms:EncryptionContext:purpose": WEBHOOK_SECRET_PURPOSE } },
      },
    ]);
    const env = synth.json.Resources[logicalId(deliverer.function)]?.Properties?.Environment as {
      Variables: Record<string, unknown>;
    };
    expect(env.Variables.CREDENTIALS_KMS_KEY_ID).toEqual(key);
    // The config function, which stores the secrets, may only generate data keys: it cannot read a secret back.
    const config = allowedActions(synth.json, logicalId(synth.stack.restApi.functions["api-config"].role));
    expect([...config].filter((action) => action.startsWith("kms:"))).toEqual(["kms:GenerateDataKey"]);
  });

  it("lets the worker decrypt tenants' Waygate keys only, not webhook signing secrets", () => {
    const { worker } = synth.stack.pipeline;
    const key = { "Fn::GetAtt": [logicalId(synth.stack.store.credentialsKey), "Arn"] };
    const kms = kmsStatements(worker.role);

    // A Waygate key is encrypted without a purpose; a webhook secret with one. Null = "the key is absent".
    expect(kms).toEqual([
      {
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: key,
        Condition: { Null: { "kms:EncryptionContext:purpose": "true" } },
      },
    ]);
  });

  it("uses the bus named by context instead of creating one", () => {
    expect(resourcesOfType(named.json, "AWS::Events::EventBus")).toHaveLength(0);
    const env = named.json.Resources[logicalId(named.stack.pipeline.worker.function)]?.Properties?.Environment as {
      Variables: Record<string, unknown>;
    };
    expect(env.Variables.EVENT_BUS_NAME).toBe("shared-bus");
  });

  it("routes this service's events to the webhook queue, which dead-letters after about a day of retries", () => {
    const { consumers } = synth.stack;
    synth.template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: { source: ["reference-data-sync"] },
      Targets: [{ Arn: { "Fn::GetAtt": [logicalId(consumers.webhookQueue), "Arn"] } }],
    });
    const queue = synth.json.Resources[logicalId(consumers.webhookQueue)]?.Properties;
    expect(queue?.RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [logicalId(consumers.webhookDeadLetterQueue), "Arn"] },
      maxReceiveCount: DELIVERY_MAX_RECEIVES,
    });
    let total = 0;
    for (let n = 1; n < DELIVERY_MAX_RECEIVES; n++) total += deliveryBackoffSeconds(n);
    expect(total).toBeGreaterThanOrEqual(86_400);
    expect(total).toBeLessThan(2 * 86_400);
    expect(queue?.MessageRetentionPeriod).toBeGreaterThan(total);
    synth.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [logicalId(consumers.webhookQueue), "Arn"] },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    // Through the deliverer's live alias, like every function (canary deployments).
    const mapping = resourcesOfType(synth.json, "AWS::Lambda::EventSourceMapping").find(
      ([, m]) =>
        JSON.stringify(m.Properties?.EventSourceArn) ===
        JSON.stringify({ "Fn::GetAtt": [logicalId(consumers.webhookQueue), "Arn"] }),
    )?.[1];
    expect(JSON.stringify(mapping?.Properties?.FunctionName)).toContain(`"${logicalId(consumers.deliverer.alias)}"`);
  });
});
