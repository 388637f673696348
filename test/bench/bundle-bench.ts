/**
 * Bundle figures: each function's minified bundle size (budget 1 MB) and its cold import time in a fresh Node
 * process (target ≤ 120 ms; the authorizer, in front of every cold request, ≤ 80 ms), measured on the bundles `npm run build` produces — what is measured is what is deployed —
 * both without source maps and with `--enable-source-maps`, as the functions are deployed. Each is reported as wall time
 * and as the CPU time the import used: on an idle core they agree, and on a shared, loaded machine the CPU time is the
 * figure that still compares between runs. Each is printed beside the figure of the last run
 * (test/bench/results.json), so a change that slows cold starts shows.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildAll } from "../../esbuild.config.mjs";
import type { BenchFigure } from "./figures.js";

const RUNS = 5;
/** Cold import targets, ms. */
const IMPORT_TARGET_MS = 120;
const AUTHORIZER_IMPORT_TARGET_MS = 80;
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), "results.json");

export async function run(): Promise<BenchFigure[]> {
  const last = lastFigures();
  const bundles = await buildAll({ quiet: true });
  const figures: BenchFigure[] = [];
  for (const bundle of bundles) {
    figures.push({
      key: `bundles.${bundle.name}.bytes`,
      value: bundle.bytes,
      unit: "B",
      target: "<= 1,048,576 B",
      ok: bundle.bytes <= 1_048_576,
    });
    for (const [suffix, flags] of [
      ["", []],
      ["SourceMaps", ["--enable-source-maps"]],
    ] as const) {
      const samples = Array.from({ length: RUNS }, () => importMs(bundle.outfile, flags));
      for (const [measure, pick] of [
        ["importMs", (sample: ImportTime) => sample.wallMs],
        ["importCpuMs", (sample: ImportTime) => sample.cpuMs],
      ] as const) {
        const sorted = samples.map(pick).sort((a, b) => a - b);
        const median = Math.round((sorted[Math.floor(sorted.length / 2)] ?? Number.NaN) * 10) / 10;
        const before = last?.[bundle.name]?.[`${measure}${suffix}`];
        const target = bundle.name === "authorizer" ? AUTHORIZER_IMPORT_TARGET_MS : IMPORT_TARGET_MS;
        figures.push({
          key: `bundles.${bundle.name}.${measure}${suffix}`,
          value: median,
          unit: typeof before === "number" ? `ms (last run ${before} ms)` : "ms",
          target: `<= ${target} ms`,
          ok: median <= target,
        });
      }
    }
  }
  return figures;
}

/** The `bundles` figures of the last `npm run bench`, if any. */
function lastFigures(): Record<string, Record<string, unknown>> | undefined {
  if (!existsSync(RESULTS)) return undefined;
  try {
    return (JSON.parse(readFileSync(RESULTS, "utf8")) as { bundles?: Record<string, Record<string, unknown>> }).bundles;
  } catch {
    return undefined;
  }
}

interface ImportTime {
  wallMs: number;
  cpuMs: number;
}

/** Time to import the bundle in a fresh process, measured inside that process. */
function importMs(file: string, flags: readonly string[]): ImportTime {
  const script = `const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); const wall = performance.now() - t; const cpu = process.cpuUsage(c); console.log(wall, (cpu.user + cpu.system) / 1000);`;
  const result = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", script], {
    encoding: "utf8",
    env: {
      ...process.env,
      TABLE_NAME: "bench",
      QUEUE_URL: "http://127.0.0.1:1/queue/bench",
      GATEWAY_URL: "http://127.0.0.1:1",
      AWS_REGION: "us-east-1",
      LOG_LEVEL: "error",
    },
  });
  if (result.status !== 0) throw new Error(`importing ${file} failed: ${result.stderr}`);
  const [wallMs, cpuMs] = (result.stdout.trim().split("\n").pop() ?? "").split(" ").map(Number);
  return { wallMs: wallMs ?? Number.NaN, cpuMs: cpuMs ?? Number.NaN };
}
