/**
 * Synthesizes the real stack the way `npx cdk synth` does — bundles from buildAll() of esbuild.config.mjs, the context
 * of cdk.json, cdk-nag's AwsSolutions checks — into temporary directories, so parallel test files never share a
 * bundle or a cloud assembly. Synthesis with bundling is slow on 2 cores: call it once per test file.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Stack, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { buildAll, rootDir } from "../../../esbuild.config.mjs";
import { type BuiltBundle, bundleDirectories } from "../../../infra/constructs/app-function.js";
import { ReferenceDataStack, readStackSettings, stackIdFor } from "../../../infra/reference-data-stack.js";

/** The gateway URL the tests synthesize with (the synth fails without one). */
export const TEST_GATEWAY_URL = "https://gateway.example.com";

export interface Synthesized {
  app: App;
  stack: ReferenceDataStack;
  template: Template;
  /** The raw template, for lookups the assertions API has no words for. */
  json: CfnTemplate;
  templatePath: string;
  assemblyDir: string;
  bundles: BuiltBundle[];
}

export interface CfnTemplate {
  Resources: Record<string, CfnResourceJson>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
  Parameters?: Record<string, Record<string, unknown>>;
}
export interface CfnResourceJson {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string[];
}

const temporaryDirectories: string[] = [];

function temporaryDirectory(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporaryDirectories.push(dir);
  return dir;
}

/** Deletes the bundles and cloud assemblies this test file made; call it in afterAll. */
export function removeTemporaryDirectories(): void {
  for (const dir of temporaryDirectories.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The context cdk.json gives `npx cdk synth`. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(rootDir, "cdk.json"), "utf8")) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

/** Bundles every function into a fresh temporary directory with the project's esbuild options. */
export async function buildBundles(): Promise<BuiltBundle[]> {
  return buildAll({ quiet: true, outDir: temporaryDirectory("rds-infra-bundles-") });
}

/**
 * Builds the bundles and synthesizes the stack with cdk.json's context plus `context`. With `nag`, cdk-nag runs as in
 * infra/app.ts and an unacknowledged error fails the synthesis itself.
 */
export async function synthesize(
  options: { context?: Record<string, unknown>; nag?: boolean; bundles?: BuiltBundle[] } = {},
): Promise<Synthesized> {
  const bundles = options.bundles ?? (await buildBundles());
  const assemblyDir = temporaryDirectory("rds-infra-cdk-out-");
  const app = new App({
    outdir: assemblyDir,
    context: { gatewayUrl: TEST_GATEWAY_URL, ...cdkJsonContext(), ...options.context },
    // test/infra/template-validation.test.ts runs the same validator directly and fails on its errors.
    builtinCloudFormationValidation: false,
  });
  const stack = new ReferenceDataStack(app, stackIdFor(readStackSettings(app.node).stage), {
    bundles: bundleDirectories(bundles),
  });
  if (options.nag === true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  const json = JSON.parse(readFileSync(artifact.templateFullPath, "utf8")) as CfnTemplate;
  return {
    app,
    stack,
    template: Template.fromJSON(json as unknown as Record<string, unknown>),
    json,
    templatePath: artifact.templateFullPath,
    assemblyDir,
    bundles,
  };
}

/** The template's logical ID of a construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  const child = construct.node.defaultChild ?? construct;
  return Stack.of(construct).resolve((child as unknown as { logicalId: string }).logicalId) as string;
}

/** Resources of one type, by logical ID. */
export function resourcesOfType(json: CfnTemplate, type: string): [string, CfnResourceJson][] {
  return Object.entries(json.Resources).filter(([, resource]) => resource.Type === type);
}

export interface PolicyStatementJson {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Every statement of every IAM policy attached to the role with this logical ID. */
export function roleStatements(json: CfnTemplate, roleLogicalId: string): PolicyStatementJson[] {
  const statements: PolicyStatementJson[] = [];
  for (const [, policy] of resourcesOfType(json, "AWS::IAM::Policy")) {
    const roles = (policy.Properties?.Roles ?? []) as unknown[];
    if (!roles.some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleLogicalId }))) continue;
    const document = policy.Properties?.PolicyDocument as { Statement: PolicyStatementJson[] };
    statements.push(...document.Statement);
  }
  const role = json.Resources[roleLogicalId];
  for (const inline of (role?.Properties?.Policies ?? []) as {
    PolicyDocument: { Statement: PolicyStatementJson[] };
  }[]) {
    statements.push(...inline.PolicyDocument.Statement);
  }
  return statements;
}

/** The actions a role is allowed, as a set. */
export function allowedActions(json: CfnTemplate, roleLogicalId: string): Set<string> {
  const actions = new Set<string>();
  for (const statement of roleStatements(json, roleLogicalId)) {
    if (statement.Effect !== "Allow") continue;
    for (const action of [statement.Action].flat()) actions.add(action);
  }
  return actions;
}
