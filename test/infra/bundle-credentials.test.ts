/**
 * The Lambda bundles resolve AWS credentials from the environment alone (esbuild.config.mjs `lambdaCredentialsOnly`):
 * a bundled SDK client signs with the role credentials Lambda puts in the environment, and the providers Lambda never
 * uses (SSO, INI profiles, credential processes, web identity, instance metadata) are not in the bundle.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { bundleOptions, rootDir } from "../../esbuild.config.mjs";

const dir = mkdtempSync(join(tmpdir(), "rds-credentials-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bundle(): Promise<string> {
  const entry = join(dir, "entry.mjs");
  writeFileSync(
    entry,
    [
      'import { DynamoDBClient } from "@aws-sdk/client-dynamodb";',
      'export const credentials = () => new DynamoDBClient({ region: "us-east-1" }).config.credentials();',
    ].join("\n"),
  );
  const outfile = join(dir, "out.mjs");
  await build({
    ...bundleOptions,
    entryPoints: [entry],
    outfile,
    absWorkingDir: rootDir,
    nodePaths: [join(rootDir, "node_modules")],
    logLevel: "silent",
  });
  return outfile;
}

describe("bundled credentials", () => {
  it("signs with the role credentials Lambda puts in the environment, and carries no other provider", async () => {
    const outfile = await bundle();
    const code = readFileSync(outfile, "utf8");
    for (const unused of ["fromSSO", "fromIni", "fromProcess", "fromTokenFile", "fromInstanceMetadata"]) {
      expect(code, unused).not.toContain(unused);
    }
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: "AKIDLAMBDAROLE",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_SESSION_TOKEN: "session",
    });
    try {
      const { credentials } = (await import(pathToFileURL(outfile).href)) as {
        credentials: () => Promise<{ accessKeyId: string; sessionToken?: string }>;
      };
      await expect(credentials()).resolves.toMatchObject({ accessKeyId: "AKIDLAMBDAROLE", sessionToken: "session" });
    } finally {
      process.env = saved;
    }
  });
});
