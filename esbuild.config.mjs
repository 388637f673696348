// One place for the Lambda bundle options: `npm run build`, the benchmarks and the CDK stack all use them,
// so what is measured is what is deployed.
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const rootDir = dirname(fileURLToPath(import.meta.url));
export const functionsDir = join(rootDir, "functions");
export const distDir = join(rootDir, "dist");

/**
 * zod 4 re-exports every locale (`z.locales`), which defeats tree-shaking and adds ~250 KiB to each bundle. We only
 * use English messages, so the locale index zod imports is replaced with one that exports `en` alone.
 */
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(builder) {
    builder.onResolve({ filter: /[\\/]locales[\\/]index\.js$/ }, (args) =>
      args.importer.includes(`${sep}zod${sep}`) ? { path: args.path, namespace: "zod-locales" } : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: "zod-locales" }, () => ({
      contents: `export { default as en } from "./en.js";`,
      resolveDir: join(rootDir, "node_modules", "zod", "v4", "locales"),
      loader: "js",
    }));
  },
};

/** esbuild options shared by every Lambda bundle (ESM, Node 22 target, minified, source maps, SDK included). */
export const bundleOptions = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  legalComments: "none",
  mainFields: ["module", "main"],
  // ESM bundles still meet CommonJS dependencies that call require(); give them one.
  banner: {
    js: "import { createRequire as __rds_createRequire } from 'node:module'; const require = __rds_createRequire(import.meta.url);",
  },
  logLevel: "warning",
  plugins: [zodEnglishOnly],
};

/** Names of the function folders that have a handler. */
export function functionNames() {
  if (!existsSync(functionsDir)) return [];
  return readdirSync(functionsDir)
    .filter((name) => existsSync(join(functionsDir, name, "handler.ts")))
    .sort();
}

/**
 * Builds every `functions/<name>/handler.ts` into `<outDir>/<name>/index.mjs` (default `dist/`); returns sizes in
 * bytes. Tests pass their own `outDir` so parallel runs never read a bundle another process is rewriting.
 */
export async function buildAll({ quiet = false, outDir = distDir } = {}) {
  const results = [];
  for (const name of functionNames()) {
    const outfile = join(outDir, name, "index.mjs");
    await build({ ...bundleOptions, entryPoints: [join(functionsDir, name, "handler.ts")], outfile });
    results.push({ name, outfile, bytes: statSync(outfile).size });
  }
  if (!quiet) {
    if (results.length === 0) console.log("no functions/*/handler.ts yet: nothing to bundle");
    for (const r of results)
      console.log(`${r.name.padEnd(14)} ${(r.bytes / 1024).toFixed(1).padStart(8)} KiB  ${r.outfile}`);
  }
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildAll();
}
