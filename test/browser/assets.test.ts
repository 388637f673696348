/**
 * The console as deployed: esbuild.config.mjs builds it into the console function's bundle (no esbuild at run time),
 * the bundle serves the same files, and the whole console stays within its 100 KB gzipped budget.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { APIGatewayProxyResult } from "aws-lambda";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { buildConsole, bundleOptions, consoleSizes, functionsDir } from "../../esbuild.config.mjs";

const BUDGET_GZIP_BYTES = 100 * 1024;
const outDir = mkdtempSync(join(tmpdir(), "rds-console-"));

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("console build", () => {
  it("stays under 100 KB gzipped, Preact included", async () => {
    const sizes = consoleSizes(await buildConsole());

    expect(sizes.files.map((f) => f.name).sort()).toEqual(["app.css", "app.js", "icon.svg", "index.html"]);
    expect(sizes.gzipBytes).toBeLessThan(BUDGET_GZIP_BYTES);
  });

  it("is built into the console function's bundle, which serves the same files without esbuild", async () => {
    const outfile = join(outDir, "console", "index.mjs");
    const result = await build({
      ...bundleOptions,
      entryPoints: [join(functionsDir, "console", "handler.ts")],
      outfile,
      metafile: true,
    });
    const inputs = Object.keys(result.metafile?.inputs ?? {});
    const { handler } = (await import(pathToFileURL(outfile).href)) as {
      handler: (event: object) => Promise<APIGatewayProxyResult>;
    };
    const expected = await buildConsole();

    expect(inputs.some((input) => input.includes("node_modules/esbuild/"))).toBe(false);
    expect(inputs).toContain("console-assets:assets");
    const script = await handler({ path: "/console/app.js", httpMethod: "GET", pathParameters: { asset: "app.js" } });
    expect(script.statusCode).toBe(200);
    expect(script.body).toBe(expected.files["app.js"]?.body);
    const page = await handler({ path: "/console", httpMethod: "GET", pathParameters: null });
    expect(page.body).toContain('src="console/app.js"');
  });
});
