/**
 * The index snapshot a list commit writes (`npm run bench -- snapshot`), at 100,000 items on dynalite:
 * - `snapshot.full100k.*`: rebuilt from every item (the first version, or a full rebuild);
 * - `snapshot.incremental100k.*`: the next version after a sync that changed 1% of the items, built on the previous
 *   version's snapshot (shared/lookup/snapshot-writer.ts);
 * - `snapshot.incremental100k.changed{5,10}pct.*`: the same at 5% and 10% changed (forced incremental), which is
 *   where INCREMENTAL_MAX_CHANGED_SHARE comes from: past it the full read costs fewer read units.
 * For each: `.readUnits` consumed (ReturnConsumedCapacity, which dynalite computes like DynamoDB), `.ms` wall time
 * (`.cpuMs` the writing process's CPU time; dynalite's work is in another process), and `.peakRssMb`, the peak RSS of a process that did nothing but that write (the OS's high-water mark, so no
 * sampling misses a peak), beside `.baselineRssMb`, the same process's RSS just before it.
 * dynalite runs in this process; each measured write runs in a child process of its own.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Item } from "../../shared/domain/entities.js";
import type { PartitionRef } from "../../shared/domain/ids.js";
import { type ReferenceDataConfig, sourceInputSchema } from "../../shared/domain/source-config.js";
import { type SnapshotCommit, writeIndexSnapshot } from "../../shared/lookup/snapshot-writer.js";
import { createDocumentClient } from "../../shared/storage/client.js";
import { createRepositories } from "../../shared/storage/index.js";
import { startDynamo } from "../support/dynamo.js";
import type { BenchFigure } from "./figures.js";
import { syntheticUsers } from "./lookup-bench.js";
import { countRequests } from "./sync-bench.js";

const SIZE = 100_000;
const REF: PartitionRef = { tenantId: "bench", integrationId: "slack", connectionId: "default", dataType: "users" };
const CONFIG: ReferenceDataConfig = sourceInputSchema.parse({
  integrationSlug: "slack",
  actionSlug: "users-list",
  referenceData: {
    dataType: "users",
    extractionPath: "$.members[*]",
    nameField: "profile.real_name",
    lookupFields: ["profile.real_name", "name", "profile.email"],
    metadataFields: ["profile.email", "profile.title", "is_admin"],
  },
}).referenceData;

interface ChildInput {
  endpoint: string;
  tableName: string;
  commit: SnapshotCommit;
  maxChangedShare?: number;
}
interface ChildOutput {
  build: string;
  ms: number;
  cpuMs: number;
  readUnits: number;
  peakRssMb: number;
  baselineRssMb: number;
}

/** In the child: one snapshot write, measured. */
async function measureInChild(input: ChildInput): Promise<ChildOutput> {
  const doc = createDocumentClient({ endpoint: input.endpoint });
  const counters = countRequests(doc);
  const repos = createRepositories({ doc, tableName: input.tableName });
  const log = { info: () => {}, warn: (message: string, ...extra: unknown[]) => console.error(message, ...extra) };
  const deps = {
    repos,
    lease: { assertHeld: () => {} },
    log,
    ...(input.maxChangedShare === undefined ? {} : { maxChangedShare: input.maxChangedShare }),
  };
  global.gc?.();
  const baseline = process.memoryUsage.rss();
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const { build } = await writeIndexSnapshot(deps, REF, input.commit, CONFIG);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const mb = (bytes: number) => Math.round(bytes / (1024 * 1024));
  return {
    build,
    ms: Math.round(ms),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    readUnits: Math.round(counters.current.readUnits * 10) / 10,
    // maxRSS is in kilobytes.
    peakRssMb: mb(process.resourceUsage().maxRSS * 1024),
    baselineRssMb: mb(baseline),
  };
}

function runChild(input: ChildInput): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ["--import", "tsx", "--expose-gc"],
      env: { ...process.env, SNAPSHOT_BENCH_CHILD: "1" },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    // Over IPC: thousands of changed IDs do not fit in an environment variable.
    child.send(input);
    child.once("message", (output: ChildOutput) => resolve(output));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`snapshot bench child exited with ${code}`));
    });
  });
}

/** Items `from`..`to` (positions) renamed, with new lookup values; every tenth deactivated instead. */
function changed(items: readonly Item[], from: number, to: number, round: number): Item[] {
  const out: Item[] = [];
  for (let i = from; i < to; i++) {
    const item = items[Math.floor((i * 7919) % items.length)]!;
    if (i % 10 === 0) out.push({ ...item, status: "inactive", contentHash: `${item.contentHash}s${round}` });
    else {
      const name = `${item.name} Jr${round}`;
      const lookup = { ...item.lookup, "profile.real_name": name, name: `${item.lookup.name}${round}` };
      out.push({ ...item, name, lookup, contentHash: `${item.contentHash}r${round}` });
    }
  }
  return out;
}

export async function run(): Promise<BenchFigure[]> {
  const dynamo = await startDynamo();
  try {
    const tableName = await dynamo.createTable("snapshot-bench");
    const doc = createDocumentClient({ endpoint: dynamo.endpoint });
    const repos = createRepositories({ doc, tableName });
    const items = syntheticUsers(SIZE);
    const put = async (rows: Item[]) => {
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < rows.length; i += 1000) {
        writes.push(repos.items.batchPut(REF, rows.slice(i, i + 1000)));
        if (writes.length === 8) await Promise.all(writes.splice(0));
      }
      await Promise.all(writes);
    };
    await put(items);
    const now = Date.now();
    const log = { info: () => {}, warn: (message: string) => console.error(message) };
    const first = await writeIndexSnapshot(
      { repos, lease: { assertHeld: () => {} }, log },
      REF,
      { version: 1, previousVersion: 0, changed: undefined, now },
      CONFIG,
    );
    if (first.build !== "full") throw new Error(`version 1 snapshot: ${first.build}`);

    const figures: BenchFigure[] = [];
    const measure = async (key: string, changedIds: string[] | undefined, expected: string, share?: number) => {
      const commit: SnapshotCommit = {
        version: 2,
        previousVersion: 1,
        previousSnapshotId: first.snapshotId,
        changed: changedIds,
        now,
      };
      const input: ChildInput = { endpoint: dynamo.endpoint, tableName, commit };
      if (share !== undefined) input.maxChangedShare = share;
      // As at a real commit, the version has no snapshot yet (the previous run's would be read to be replaced).
      await repos.indexSnapshots.delete(REF, 2);
      const out = await runChild(input);
      if (out.build !== expected) throw new Error(`${key}: built ${out.build}, expected ${expected}`);
      figures.push(
        { key: `${key}.readUnits`, value: out.readUnits, unit: "RCU" },
        { key: `${key}.ms`, value: out.ms, unit: "ms" },
        { key: `${key}.cpuMs`, value: out.cpuMs, unit: "ms" },
        { key: `${key}.peakRssMb`, value: out.peakRssMb, unit: "MB" },
        { key: `${key}.baselineRssMb`, value: out.baselineRssMb, unit: "MB" },
      );
      return out;
    };

    // 1% changed: the incremental write against the full one.
    let changedRows = changed(items, 0, SIZE / 100, 1);
    await put(changedRows);
    const ids = new Set(changedRows.map((row) => row.externalId));
    const full = await measure("snapshot.full100k", undefined, "full");
    const incremental = await measure("snapshot.incremental100k", [...ids], "incremental");
    figures.push({
      key: "snapshot.incremental100k.readShare",
      value: Math.round((incremental.readUnits / full.readUnits) * 1000) / 1000,
      unit: "of full",
      target: "< 1",
      ok: incremental.readUnits < full.readUnits,
    });
    // 5% and 10% changed, incremental forced: where the full read becomes cheaper.
    for (const [pct, round] of [
      [5, 2],
      [10, 3],
    ] as const) {
      changedRows = changed(items, ids.size, (SIZE * pct) / 100, round);
      await put(changedRows);
      for (const row of changedRows) ids.add(row.externalId);
      await measure(`snapshot.incremental100k.changed${pct}pct`, [...ids], "incremental", 1);
    }
    doc.destroy();
    return figures;
  } finally {
    await dynamo.stop();
  }
}

if (process.env.SNAPSHOT_BENCH_CHILD === "1") {
  process.once("message", async (input: ChildInput) => {
    const output = await measureInChild(input);
    process.send?.(output, () => process.exit(0));
  });
}
