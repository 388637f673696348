/**
 * `npm run bench`: runs every benchmark module, prints each figure beside its target, and writes
 * test/bench/results.json (gitignored) so runs can be compared. Exits non-zero only when a benchmark errors,
 * never because of a timing: these machines are shared and noisy.
 *
 * `npm run bench -- sync lookup` runs only the named modules.
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchFigure, BenchModule } from "./figures.js";

const MODULES: Record<string, string> = {
  sync: "./sync-bench.js",
  lookup: "./lookup-bench.js",
  bundles: "./bundle-bench.js",
  scale: "./scale-bench.js",
  http: "./http-bench.js",
  ratelimit: "./ratelimit-bench.js",
  changes: "./changes-bench.js",
  pausedGauge: "./paused-gauge-bench.js",
  snapshot: "./snapshot-bench.js",
};

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith("-"));
const names = wanted.length > 0 ? wanted : Object.keys(MODULES);

const figures: BenchFigure[] = [];
let errors = 0;
for (const name of names) {
  const path = MODULES[name];
  if (!path) {
    console.error(`unknown benchmark '${name}' (have: ${Object.keys(MODULES).join(", ")})`);
    errors++;
    continue;
  }
  const started = performance.now();
  console.log(`\n▶ ${name}`);
  try {
    const module = (await import(path)) as BenchModule;
    const produced = await module.run();
    figures.push(...produced);
    printTable(produced);
    console.log(`  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    errors++;
    console.error(`✗ ${name} failed:`, error);
  }
}

console.log("\nAll figures");
printTable(figures);
const results = toNested(figures);
writeFileSync(join(here, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwrote ${join("test", "bench", "results.json")}`);
if (errors > 0) process.exitCode = 1;

function printTable(rows: BenchFigure[]): void {
  const width = Math.max(10, ...rows.map((r) => r.key.length));
  for (const r of rows) {
    const value = `${formatNumber(r.value)} ${r.unit}`.padEnd(22);
    const target = r.target ? `target ${r.target}`.padEnd(22) : "".padEnd(22);
    const mark = r.ok === undefined ? "" : r.ok ? "✓" : "✗ (misses target)";
    console.log(`  ${r.key.padEnd(width)}  ${value}  ${target}  ${mark}`);
  }
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return n.toLocaleString("en-US");
  return n.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

function toNested(rows: BenchFigure[]): Record<string, unknown> {
  const root: Record<string, unknown> = { generatedAt: new Date().toISOString(), node: process.version };
  for (const r of rows) {
    const parts = r.key.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (typeof next !== "object" || next === null) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1] as string] = r.value;
  }
  return root;
}
