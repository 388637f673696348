/**
 * The function bundles as `npm run build` makes them (buildAll of esbuild.config.mjs): one per function of the route
 * table, each within the 1 MiB budget, ESM with its source map; and every AWS operation a bundle's own code can send is
 * allowed to that function by the stack — a missing grant would otherwise surface only as AccessDenied in AWS.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleOptions, functionsDir, rootDir } from "../../esbuild.config.mjs";
import { type BuiltBundle, FUNCTION_NAMES, type FunctionName } from "../../infra/constructs/app-function.js";
import {
  allowedActions,
  logicalId,
  removeTemporaryDirectories,
  type Synthesized,
  synthesize,
} from "./support/synth.js";

const BUDGET_BYTES = 1_048_576;

/** SDK command class (without `Command`) → the IAM action it needs. An unlisted command fails the test. */
const COMMAND_ACTIONS: Readonly<Record<string, string>> = {
  Get: "dynamodb:GetItem",
  GetItem: "dynamodb:GetItem",
  BatchGet: "dynamodb:BatchGetItem",
  BatchGetItem: "dynamodb:BatchGetItem",
  Query: "dynamodb:Query",
  Scan: "dynamodb:Scan",
  Put: "dynamodb:PutItem",
  PutItem: "dynamodb:PutItem",
  Update: "dynamodb:UpdateItem",
  UpdateItem: "dynamodb:UpdateItem",
  Delete: "dynamodb:DeleteItem",
  DeleteItem: "dynamodb:DeleteItem",
  BatchWrite: "dynamodb:BatchWriteItem",
  BatchWriteItem: "dynamodb:BatchWriteItem",
  TransactWrite: "dynamodb:TransactWriteItems",
  TransactWriteItems: "dynamodb:TransactWriteItems",
  TransactGet: "dynamodb:TransactGetItems",
  TransactGetItems: "dynamodb:TransactGetItems",
  DescribeTable: "dynamodb:DescribeTable",
  ExecuteStatement: "dynamodb:PartiQL*",
  SendMessage: "sqs:SendMessage",
  SendMessageBatch: "sqs:SendMessage",
  ReceiveMessage: "sqs:ReceiveMessage",
  DeleteMessage: "sqs:DeleteMessage",
  DeleteMessageBatch: "sqs:DeleteMessage",
  ChangeMessageVisibility: "sqs:ChangeMessageVisibility",
  PutEvents: "events:PutEvents",
  ChangeMessageVisibilityBatch: "sqs:ChangeMessageVisibility",
  GetQueueUrl: "sqs:GetQueueUrl",
  GetQueueAttributes: "sqs:GetQueueAttributes",
  GetSecretValue: "secretsmanager:GetSecretValue",
  GenerateDataKey: "kms:GenerateDataKey",
  Decrypt: "kms:Decrypt",
  PutMetricData: "cloudwatch:PutMetricData",
};
const PAGINATORS: Readonly<Record<string, string>> = { paginateQuery: "Query", paginateScan: "Scan" };
const READ_ACTIONS = new Set([
  "dynamodb:GetItem",
  "dynamodb:BatchGetItem",
  "dynamodb:Query",
  "dynamodb:Scan",
  "dynamodb:TransactGetItems",
  "dynamodb:DescribeTable",
  "secretsmanager:GetSecretValue",
]);
/**
 * shared/runtime.ts is in every bundle, but it only reaches Secrets Manager and SQS when the environment names a
 * secret or a queue: a function without that variable cannot send these.
 */
const ENV_GATED: Readonly<Record<string, readonly string[]>> = {
  "secretsmanager:GetSecretValue": ["STACK_SECRET_ARN"],
  "kms:GenerateDataKey": ["CREDENTIALS_KMS_KEY_ID"],
  "kms:Decrypt": ["CREDENTIALS_KMS_KEY_ID"],
  "sqs:SendMessage": ["QUEUE_URL", "DLQ_URL"],
  "events:PutEvents": ["EVENT_BUS_NAME"],
};
/**
 * Read-only functions share repository modules that also hold write methods their handlers never call, so their
 * bundles contain write commands that cannot run; for them only reads are checked. Their grants have no write at all
 * (stack.test.ts), so a write that did run would fail loudly with AccessDenied.
 */
const READ_ONLY: ReadonlySet<FunctionName> = new Set(["api-query", "authorizer", "webhook-deliverer"]);
/**
 * The credentials cipher (shared/credentials/cipher.ts) holds both directions, but the config function only encrypts
 * (saving a tenant's key or a webhook's secret), the worker only decrypts (calling the gateway with a key) and so does
 * the deliverer (signing with a webhook's secret). Each role has only its own direction (stack.test.ts), so the other
 * one, were it ever called, would fail loudly with AccessDenied.
 */
const ONE_DIRECTION: Partial<Record<FunctionName, string>> = {
  "api-config": "kms:Decrypt",
  "sync-worker": "kms:GenerateDataKey",
  "webhook-deliverer": "kms:GenerateDataKey",
};

/**
 * What a function's bundle must not carry, because it never runs it and every cold start would parse it: the
 * authorizer, in front of every cold request, checks keys without zod; the planner reads no secret.
 */
const NEVER_BUNDLED: Partial<Record<FunctionName, readonly string[]>> = {
  authorizer: ["node_modules/zod/"],
  planner: ["node_modules/@aws-sdk/client-secrets-manager/"],
};

/** The project source files (not dependencies) with code in the function's bundle. */
async function projectSources(name: FunctionName): Promise<string[]> {
  return (
    Object.entries(await bundleInputs(name))
      // Project files only: not dependencies, nor the virtual modules of esbuild plugins (`namespace:path`).
      .filter(([path]) => !path.includes("node_modules/") && !/^[\w-]+:/.test(path))
      .map(([path]) => join(rootDir, path))
  );
}

/** Every input with code in the function's bundle (paths relative to the root), with its bytes in the output. */
async function bundleInputs(name: FunctionName): Promise<Record<string, number>> {
  const entry = join(functionsDir, name, "handler.ts");
  if (!existsSync(entry)) throw new Error(`functions/${name}/handler.ts is missing`);
  const result = await build({
    ...bundleOptions,
    entryPoints: [entry],
    outfile: join(rootDir, "dist", name, "index.mjs"),
    absWorkingDir: rootDir,
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
  if (output === undefined) throw new Error(`no output for ${name}`);
  return Object.fromEntries(
    Object.entries(output.inputs)
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([path, input]) => [path, input.bytesInOutput]),
  );
}

/** The IAM actions the commands in these sources need; unknown commands are returned separately. */
function actionsUsedBy(files: readonly string[]): { actions: Map<string, string[]>; unknown: string[] } {
  const actions = new Map<string, string[]>();
  const unknown: string[] = [];
  for (const file of files) {
    const source = readFileSync(file, "utf8");
    const commands = [
      ...[...source.matchAll(/\bnew\s+([A-Z]\w*?)Command\s*\(/g)].map((m) => m[1] as string),
      ...[...source.matchAll(/\b(paginate\w+)\s*\(/g)].flatMap((m) => PAGINATORS[m[1] as string] ?? []),
    ];
    for (const command of commands) {
      const action = COMMAND_ACTIONS[command];
      if (action === undefined) {
        unknown.push(`${command}Command in ${file}`);
        continue;
      }
      actions.set(action, [...(actions.get(action) ?? []), `${basename(dirname(file))}/${basename(file)}`]);
    }
  }
  return { actions, unknown };
}

let bundles: BuiltBundle[];
let synth: Synthesized;

beforeAll(async () => {
  synth = await synthesize();
  bundles = synth.bundles;
});
afterAll(removeTemporaryDirectories);

describe("function bundles", () => {
  it("builds one bundle per function of the route table", () => {
    expect(bundles.map((bundle) => bundle.name).sort()).toEqual([...FUNCTION_NAMES].sort());
  });

  it("keeps every bundle within the 1 MiB budget", () => {
    console.log(bundles.map((b) => `${b.name.padEnd(12)} ${(b.bytes / 1024).toFixed(1).padStart(7)} KiB`).join("\n"));
    for (const bundle of bundles) expect(bundle.bytes, bundle.name).toBeLessThanOrEqual(BUDGET_BYTES);
  });

  it("ships each bundle as ESM with its source map beside it", () => {
    for (const bundle of bundles) {
      const code = readFileSync(bundle.outfile, "utf8");
      expect(code, bundle.name).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
      expect(existsSync(`${bundle.outfile}.map`), bundle.name).toBe(true);
      expect(code, bundle.name).toMatch(/\bexport\s*\{/);
    }
  });
});

describe("what bundles leave out", () => {
  it.each(Object.entries(NEVER_BUNDLED))("keeps %s free of %j", async (name, forbidden) => {
    const inputs = Object.keys(await bundleInputs(name as FunctionName));
    expect(inputs.length).toBeGreaterThan(0);
    for (const prefix of forbidden) expect(inputs.filter((path) => path.includes(prefix))).toEqual([]);
  });
});

describe("grants cover the code", () => {
  it.each([...FUNCTION_NAMES])("allows %s every AWS operation its code sends", async (name) => {
    const { actions, unknown } = actionsUsedBy(await projectSources(name));
    expect(unknown, "commands missing from COMMAND_ACTIONS").toEqual([]);
    const functions = {
      planner: synth.stack.pipeline.planner,
      "sync-worker": synth.stack.pipeline.worker,
      authorizer: synth.stack.restApi.authorizerFunction,
      "webhook-deliverer": synth.stack.consumers.deliverer,
      console: synth.stack.restApi.consoleFunction,
      ...synth.stack.restApi.functions,
    };
    const fn = functions[name];
    const granted = allowedActions(synth.json, logicalId(fn.role));
    const variables = (
      synth.json.Resources[logicalId(fn.function)]?.Properties?.Environment as { Variables: object } | undefined
    )?.Variables;
    const environment = Object.keys(variables ?? {});
    const missing = [...actions.entries()]
      .filter(([action]) => !READ_ONLY.has(name) || READ_ACTIONS.has(action))
      .filter(([action]) => ONE_DIRECTION[name] !== action)
      .filter(([action]) => ENV_GATED[action]?.some((variable) => environment.includes(variable)) ?? true)
      .filter(([action]) => !granted.has(action))
      .map(([action, where]) => `${action} (used in ${[...new Set(where)].join(", ")})`);
    expect(missing).toEqual([]);
  });
});
