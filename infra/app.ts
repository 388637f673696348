/**
 * CDK app entry (cdk.json runs it with tsx). It bundles every function with the options of esbuild.config.mjs first,
 * so what `npm run build` and the benchmarks measure is what deploys, then synthesizes the stack with cdk-nag's
 * AwsSolutions checks: an unacknowledged finding fails the synth. Needs no AWS credentials and no Docker.
 * `-c stage=<name>` picks the stage (default dev): `npx cdk deploy -c stage=prod -c gatewayUrl=https://…`.
 */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { buildAll } from "../esbuild.config.mjs";
import { bundleDirectories } from "./constructs/app-function.js";
import { ReferenceDataStack, readStackSettings, stackIdFor } from "./reference-data-stack.js";

const app = new App();
// Settings first: a missing gateway URL or a bad stage fails before anything is bundled.
let stage: string;
try {
  ({ stage } = readStackSettings(app.node));
} catch (error) {
  // The message names the key and the fix; a stack trace would only bury it.
  console.error((error as Error).message);
  process.exit(1);
}
const bundles = bundleDirectories(await buildAll());
new ReferenceDataStack(app, stackIdFor(stage), {
  bundles,
  // Deploys to the account and region of the CLI's credentials; synth needs neither.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
