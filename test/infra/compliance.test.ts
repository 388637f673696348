/**
 * cdk-nag AwsSolutions with zero unacknowledged findings (each acknowledgement with a written reason, none stale), and
 * the synthesized template validated by the offline CloudFormation validator shipped in aws-cdk-lib, with zero errors.
 * The stack is synthesized with every optional branch on (CORS for two origins, an alarm e-mail) so that every
 * resource the stack can create is checked.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { App, Stack, Validations } from "aws-cdk-lib";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeTemporaryDirectories, type Synthesized, synthesize } from "./support/synth.js";

/** The part of `@aws/cloudformation-validate` (a dependency of aws-cdk-lib, not of ours) this test uses. */
interface Diagnostic {
  ruleId: string;
  severity: "FATAL" | "ERROR" | "WARN" | "INFO" | "DEBUG";
  message: string;
  entity?: { logicalId: string };
}
interface CfnValidate {
  CompositeEngine: new () => {
    validateTemplate(template: unknown): { status: string; diagnostics: Diagnostic[] };
    free(): void;
  };
  TemplateFile: new (path: string) => unknown;
  TemplateContent: new (content: string, name?: string) => unknown;
}
const require = createRequire(import.meta.url);
const cfnValidate = createRequire(require.resolve("aws-cdk-lib"))("@aws/cloudformation-validate") as CfnValidate;

/**
 * Warnings the validator may raise on this stack, each with why it is acceptable. Anything else fails the test.
 * W3005: aws-lambda's Function adds DependsOn its role next to the GetAtt of the role's ARN; harmless.
 */
const ACCEPTED_WARNINGS = new Set(["W3005"]);

type Violation = { ruleName: string; severity: string; violatingResources: { constructPath: string }[] };

/** Every acknowledgement recorded in the tree: construct path, rule id, reason. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ""),
          reason,
        })),
      ),
  );
}

let synth: Synthesized;

beforeAll(async () => {
  synth = await synthesize({
    nag: true,
    context: {
      allowedOrigins: "https://app.waygate.example,https://admin.waygate.example",
      alarmEmail: "oncall@example.com",
    },
  });
});
afterAll(removeTemporaryDirectories);

describe("cdk-nag AwsSolutions", () => {
  it("reports no unacknowledged finding of any severity for the stack", () => {
    const report = JSON.parse(readFileSync(join(synth.assemblyDir, "validation-report.json"), "utf8")) as {
      pluginReports: { pluginName: string; violations: Violation[] }[];
    };
    const findings = report.pluginReports.flatMap((plugin) =>
      plugin.violations.map((v) => `${plugin.pluginName} ${v.ruleName} (${v.severity})`),
    );
    expect(findings).toEqual([]);
    // The same checks run directly, warnings included.
    expect(new AwsSolutionsChecks().validateScope(synth.app).violations).toEqual([]);
  });

  it("gives every acknowledgement a written reason", () => {
    const acks = acknowledgements(synth.app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.id, ack.path).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(ack.reason.split(/\s+/).length, `${ack.id} at ${ack.path}`).toBeGreaterThanOrEqual(8);
    }
  });

  it("has no stale acknowledgement: each one silences a finding that really occurs", () => {
    // Run the pack with acknowledgements ignored to see every raw finding.
    const raw = new AwsSolutionsChecks();
    (raw as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const findings = (raw.validateScope(synth.app).violations as Violation[]).flatMap((v) =>
      v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath })),
    );
    expect(findings.length).toBeGreaterThan(0);
    for (const ack of acknowledgements(synth.app)) {
      const silenced = findings.filter(
        (f) => f.id === ack.id && (f.path === ack.path || f.path.startsWith(`${ack.path}/`)),
      );
      expect(silenced.length, `${ack.id} at ${ack.path}`).toBeGreaterThan(0);
    }
  });

  it("fails the synthesis of a stack with an unacknowledged finding (the check can fail)", () => {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, "Unhardened");
    new Queue(stack, "PlainQueue");
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
  });
});

describe("CloudFormation validator (aws-cdk-lib's @aws/cloudformation-validate)", () => {
  // Building the engine compiles every rule: build it once.
  let engine: InstanceType<CfnValidate["CompositeEngine"]>;
  beforeAll(() => {
    engine = new cfnValidate.CompositeEngine();
  });
  afterAll(() => engine?.free());

  it("finds no error in the synthesized template, and no warning beyond the accepted ones", () => {
    const report = engine.validateTemplate(new cfnValidate.TemplateFile(synth.templatePath));
    expect(report.status).toBe("OK");
    const problems = report.diagnostics
      .filter((d) => d.severity === "FATAL" || d.severity === "ERROR" || d.severity === "WARN")
      .filter((d) => !(d.severity === "WARN" && ACCEPTED_WARNINGS.has(d.ruleId)))
      .map((d) => `${d.severity} ${d.ruleId} ${d.entity?.logicalId ?? ""}: ${d.message}`);
    expect(problems).toEqual([]);
  });

  it("reports errors for a broken template (the check can fail)", () => {
    const broken = JSON.stringify({
      Resources: { Queue: { Type: "AWS::SQS::Queue", Properties: { VisibilityTimeout: "soon", Colour: "blue" } } },
    });
    const report = engine.validateTemplate(new cfnValidate.TemplateContent(broken, "broken.json"));
    expect(report.diagnostics.filter((d) => d.severity === "ERROR" || d.severity === "FATAL").length).toBeGreaterThan(
      0,
    );
  });
});
