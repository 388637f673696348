// One place for the Lambda bundle options: `npm run build`, the benchmarks and the CDK stack all use them,
// so what is measured is what is deployed.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

export const rootDir = dirname(fileURLToPath(import.meta.url));
export const functionsDir = join(rootDir, "functions");
export const distDir = join(rootDir, "dist");
export const consoleDir = join(rootDir, "console");

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

// ---------------------------------------------------------------------------------------------------------------
// The admin console (console/): a browser build, served by the `console` function from the same API.

/** esbuild options of the console's browser bundle: one ES module and one stylesheet, Preact's JSX, minified. */
export const consoleBuildOptions = {
  entryPoints: { app: join(consoleDir, "src", "main.tsx") },
  bundle: true,
  platform: "browser",
  format: "esm",
  target: ["chrome111", "firefox111", "safari16.4"],
  minify: true,
  sourcemap: false,
  legalComments: "none",
  jsx: "automatic",
  jsxImportSource: "preact",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
  write: false,
  outdir: join(consoleDir, "out"),
};

/** Content types of the console's files, by extension. */
const CONSOLE_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/**
 * Builds the console in memory: `index.html` and `icon.svg` as they are in console/, `app.js` and `app.css` from the
 * browser build. Returns `{ files: { [name]: { body, contentType } } }`, the shape `shared/console/assets.ts` declares.
 */
export async function buildConsole() {
  const result = await build(consoleBuildOptions);
  const files = {};
  const add = (name, body) => {
    files[name] = { body, contentType: CONSOLE_TYPES[name.slice(name.lastIndexOf("."))] };
  };
  for (const file of result.outputFiles) add(file.path.slice(file.path.lastIndexOf(sep) + 1), file.text);
  for (const name of ["index.html", "icon.svg"]) add(name, readFileSync(join(consoleDir, name), "utf8"));
  return { files };
}

/** Bytes of each console file, raw and gzipped, and the gzipped total (the budget is 100 KB). */
export function consoleSizes(assets) {
  const files = Object.entries(assets.files).map(([name, file]) => ({
    name,
    bytes: Buffer.byteLength(file.body),
    gzipBytes: gzipSync(file.body).byteLength,
  }));
  return { files, gzipBytes: files.reduce((sum, file) => sum + file.gzipBytes, 0) };
}

/**
 * In a Lambda bundle, `shared/console/assets.ts` (which builds the console on demand under tsx) is replaced by a
 * module holding the built files, so the `console` function ships them and never needs esbuild at run time.
 */
function consoleAssets() {
  return {
    name: "console-assets",
    setup(builder) {
      const module = join(rootDir, "shared", "console", "assets");
      builder.onResolve({ filter: /assets(\.js|\.ts)?$/ }, (args) =>
        join(args.resolveDir, args.path).replace(/\.(js|ts)$/, "") === module
          ? { path: "assets", namespace: "console-assets" }
          : undefined,
      );
      builder.onLoad({ filter: /.*/, namespace: "console-assets" }, async () => {
        const assets = await buildConsole();
        return {
          contents: `const assets = ${JSON.stringify(assets)};\nexport async function loadConsoleAssets() { return assets; }\n`,
          loader: "js",
        };
      });
    },
  };
}

/**
 * Lambda hands a function its role's credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN). The SDK's default chain (`@aws-sdk/credential-provider-node`) also carries SSO, INI profiles,
 * credential processes, web identity, the container and instance metadata services, and the STS/SSO clients they use:
 * code a Lambda bundle parses on every cold start and never runs. The bundles resolve the chain to the environment
 * provider alone. Off Lambda (tests, `npm start`) nothing is bundled, so the full chain still applies there.
 */
const lambdaCredentialsOnly = {
  name: "lambda-credentials-only",
  setup(builder) {
    builder.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, (args) => ({
      path: args.path,
      namespace: "lambda-credentials",
    }));
    builder.onLoad({ filter: /.*/, namespace: "lambda-credentials" }, () => ({
      contents: [
        `import { fromEnv } from "@aws-sdk/credential-provider-env";`,
        "export const defaultProvider = (init = {}) => fromEnv(init);",
        "export const credentialsWillNeedRefresh = (credentials) => credentials?.expiration !== undefined;",
        "export const credentialsTreatedAsExpired = (credentials) =>",
        "  credentials?.expiration !== undefined && credentials.expiration.getTime() - Date.now() < 300000;",
      ].join("\n"),
      resolveDir: rootDir,
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
  plugins: [zodEnglishOnly, consoleAssets(), lambdaCredentialsOnly],
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
    const sizes = consoleSizes(await buildConsole());
    const parts = sizes.files.map((f) => `${f.name} ${(f.gzipBytes / 1024).toFixed(1)}`).join(", ");
    console.log(`console assets ${(sizes.gzipBytes / 1024).toFixed(1).padStart(8)} KiB gzipped (${parts}; budget 100)`);
  }
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildAll();
}
