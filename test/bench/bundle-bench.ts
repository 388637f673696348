/**
 * Bundle figures: each function's minified bundle size (budget 1 MB) and its cold import time in a fresh Node
 * process (target ≤ 150 ms), measured on the bundles `npm run build` produces — what is measured is what is deployed.
 */
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { buildAll } from "../../esbuild.config.mjs";
import type { BenchFigure } from "./figures.js";

const RUNS = 5;

export async function run(): Promise<BenchFigure[]> {
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
    const samples = Array.from({ length: RUNS }, () => importMs(bundle.outfile)).sort((a, b) => a - b);
    const median = samples[Math.floor(samples.length / 2)] ?? Number.NaN;
    figures.push({
      key: `bundles.${bundle.name}.importMs`,
      value: Math.round(median * 10) / 10,
      unit: "ms",
      target: "<= 150 ms",
      ok: median <= 150,
    });
  }
  return figures;
}

/** Time to import the bundle in a fresh process, measured inside that process. */
function importMs(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
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
  return Number(result.stdout.trim().split("\n").pop());
}
