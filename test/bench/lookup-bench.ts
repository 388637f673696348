/**
 * Lookup speed and memory (`npm run bench -- lookup`):
 * - `lookup.warm{10k,100k}.p50Ms/p99Ms`: the lookup service (shared/api/query/lookup.ts) over a few thousand mixed
 *   queries (exact names, emails and handles, prefixes, typos, misses) with the partition's index cached, as a warm
 *   Lambda answers. The partition, connection and source reads are served from memory, so the figure is the handler's
 *   own work; `lookup.warm10k.dynalite.*` repeats it with those three GetItems going to dynalite over loopback.
 * - `lookup.cold{10k,100k}.ms`: the first lookup after a sync — the three GetItems, the index snapshot the worker wrote
 *   at commit read from dynalite and loaded, the query answered (median of 3 runs, cache emptied before each);
 *   `.readUnits` what that read consumed, `.itemsReadUnits` what reading every item instead costs (the ratio's base).
 * - `*.cpuP99Ms`, `lookup.cold*.cpuMs`: the same in CPU time of this process (informational): on a shared, busy
 *   machine wall time also counts waiting for a core.
 * - `lookup.index100k.heapMb`: memory retained by a cached 100,000-item index (V8 heap plus typed-array buffers),
 *   including the names, IDs and metadata it keeps and its bigram index (informational).
 * Names come from a seeded PRNG, so every run measures the same data and queries.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { lookupReferenceData } from "../../shared/api/query/lookup.js";
import type { QueryDeps } from "../../shared/api/query/read.js";
import type { Connection, Item, Partition } from "../../shared/domain/entities.js";
import type { PartitionRef } from "../../shared/domain/ids.js";
import { type Source, type SourceInput, sourceInputSchema } from "../../shared/domain/source-config.js";
import { LookupIndexCache } from "../../shared/lookup/cache.js";
import { buildLookupIndex, type LookupIndex } from "../../shared/lookup/index.js";
import { lookup } from "../../shared/lookup/ranking.js";
import { writeIndexSnapshot } from "../../shared/lookup/snapshot-writer.js";
import { createDocumentClient } from "../../shared/storage/client.js";
import { createRepositories } from "../../shared/storage/index.js";
import { startDynamo, type TestDynamo } from "../support/dynamo.js";
import type { BenchFigure } from "./figures.js";
import { countRequests, emptyCounters } from "./sync-bench.js";

const FIRST = (
  "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph " +
  "Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark Sandra " +
  "Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy " +
  "George Melissa Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob " +
  "Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott " +
  "Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Patrick " +
  "Carolyn Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia " +
  "Nathan Joyce Henry Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina Ethan Joan Walter Evelyn " +
  "Noah Judith Jeremy Megan Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline Gerald Martha Harold " +
  "Gloria Sean Teresa Austin Ann Carl Sara Arthur Madison Lawrence Frances Dylan Kathryn Jesse Janice Jordan Jean " +
  "Bryan Abigail Billy Alice Joe Judy Bruce Sophia Gabriel Grace Logan Denise Albert Amber Willie Doris Alan " +
  "Marilyn Juan Danielle Wayne Beverly Elijah Isabella Randy Theresa Roy Diana Vincent Natalie Ralph Brittany " +
  "Eugene Charlotte Russell Marie Bobby Kayla Mason Alexis Philip Lori Louis Zoë José Renée Chloé Björn Søren " +
  "Derek Priya Wei Hiroshi Aisha Mohammed Fatima Olga Dmitri Ingrid Lars Mateo Lucía Thanh Kwame Amara Yuki"
).split(" ");
const LAST = (
  "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson " +
  "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson " +
  "Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell " +
  "Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris " +
  "Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward " +
  "Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders " +
  "Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes " +
  "Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West " +
  "Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison " +
  "Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford " +
  "Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Muñoz Hunt Hicks Holmes Palmer Wagner " +
  "Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols " +
  "Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Hansen Peters Santos " +
  "Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Osgood Connor " +
  "O'Brien Müller Østergaard Nakamura Okafor Kowalski Ivanova Johansson Haddad Sharma Takahashi"
).split(" ");
const DOMAINS = ["example.com", "acme.io", "corp.net", "mail.org", "globex.co"];
const TITLES = ["Engineer", "Designer", "Product Manager", "Sales", "Support", "Finance", "Recruiter"];

/** Mulberry32: a tiny seeded PRNG, so runs are comparable. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LOOKUP_FIELDS = ["profile.real_name", "name", "profile.email"];

/** Slack-like users: display name, handle and email as lookup fields; ~4% inactive. */
export function syntheticUsers(count: number, seed = 42): Item[] {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const at = "2026-03-01T12:00:00.000Z";
  const items: Item[] = [];
  for (let i = 0; i < count; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const name = `${first} ${last}`;
    const ascii = (s: string) =>
      s
        .normalize("NFKD")
        .replace(/\p{M}/gu, "")
        .toLowerCase()
        .replace(/[^a-z]/g, "");
    const handle =
      random() < 0.5
        ? `${ascii(first)}.${ascii(last)}${Math.floor(random() * 1000)}`
        : `${ascii(first)[0]}${ascii(last)}${Math.floor(random() * 100)}`;
    const email = `${handle}@${pick(DOMAINS)}`;
    const externalId = `U${Math.floor(random() * 36 ** 7)
      .toString(36)
      .toUpperCase()
      .padStart(7, "0")}${i.toString(36).toUpperCase()}`;
    items.push({
      externalId,
      name,
      lookup: { "profile.real_name": name, name: handle, "profile.email": email },
      metadata: { "profile.email": email, "profile.title": pick(TITLES), is_admin: random() < 0.05 },
      status: random() < 0.04 ? "inactive" : "active",
      contentHash: `h${i}`,
      jobId: "01JOBBENCH0000000000000000",
      change: "created",
      createdAt: at,
      updatedAt: at,
    });
  }
  return items;
}

/** A mix of what agents ask: exact names, emails and handles, prefixes, typos, and names that are not there. */
export function mixedQueries(items: readonly Item[], count: number, seed = 7): string[] {
  const random = prng(seed);
  const queries: string[] = [];
  for (let q = 0; q < count; q++) {
    const item = items[Math.floor(random() * items.length)] as Item;
    const name = item.name;
    const kind = q % 10;
    if (kind <= 1) queries.push(name);
    else if (kind === 2) queries.push(item.lookup["profile.email"] ?? name);
    else if (kind === 3) queries.push(`@${item.lookup.name ?? name}`);
    else if (kind === 4) queries.push(name.split(" ")[0] ?? name);
    else if (kind === 5) queries.push(name.slice(0, Math.max(3, Math.floor(name.length * 0.6))));
    else if (kind <= 7) queries.push(typo(name, random));
    else
      queries.push(`${Math.floor(random() * 36 ** 6).toString(36)} ${pick(["smyth", "q", "zzyx", "nobody"], random)}`);
  }
  return queries;
}

function pick<T>(list: readonly T[], random: () => number): T {
  return list[Math.floor(random() * list.length)] as T;
}

/** One transposition, deletion or substitution inside a word. */
function typo(value: string, random: () => number): string {
  const at = 1 + Math.floor(random() * (value.length - 3));
  const kind = Math.floor(random() * 3);
  if (value[at] === " " || value[at + 1] === " ") return typo(value, random);
  if (kind === 0) return value.slice(0, at) + value[at + 1] + value[at] + value.slice(at + 2);
  if (kind === 1) return value.slice(0, at) + value.slice(at + 1);
  return `${value.slice(0, at)}x${value.slice(at + 1)}`;
}

const TENANT = "bench-tenant";

function refOf(dataType: string): PartitionRef {
  return { tenantId: TENANT, integrationId: "slack", connectionId: "default", dataType };
}

function sourceInputOf(dataType: string): SourceInput {
  return sourceInputSchema.parse({
    integrationSlug: "slack",
    actionSlug: "users-list",
    referenceData: {
      dataType,
      extractionPath: "$.members[*]",
      nameField: "profile.real_name",
      lookupFields: LOOKUP_FIELDS,
      metadataFields: ["profile.email", "profile.title", "is_admin"],
    },
  });
}

function sourceOf(dataType: string): Source {
  const input = sourceInputOf(dataType);
  return { ...input, tenantId: TENANT, integrationId: "slack", dataType, revision: 1, createdAt: "", updatedAt: "" };
}

function partitionOf(ref: PartitionRef, itemCount: number): Partition {
  const at = new Date().toISOString();
  return {
    ...ref,
    status: "idle",
    syncType: "list",
    version: 1,
    manifestChunks: 1,
    objectChunks: 0,
    itemCount,
    nextSyncAt: at,
    lastSyncedAt: at,
    consecutiveFailures: 0,
    createdAt: at,
    updatedAt: at,
  };
}

/** Repositories answering the partition, connection and source reads from memory, and the item listing from `items`. */
function memoryRepos(ref: PartitionRef, items: Item[]): QueryDeps["repos"] {
  const partition = partitionOf(ref, items.length);
  const source = sourceOf(ref.dataType);
  const connection: Connection = {
    tenantId: TENANT,
    integrationId: "slack",
    connectionId: "default",
    status: "active",
    enrolledAt: "",
    updatedAt: "",
  };
  return {
    partitions: { get: async () => partition },
    connections: { get: async () => connection },
    sources: { get: async () => source },
    items: { listSummaries: async () => items },
  } as unknown as QueryDeps["repos"];
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Times each query through the lookup service: sorted wall-clock latencies, and sorted CPU times of this process
 * (which leave out waiting for a core on a shared machine, and include GC).
 */
async function timeQueries(
  deps: QueryDeps,
  dataType: string,
  queries: readonly string[],
): Promise<{ wall: number[]; cpu: number[] }> {
  const run = (query: string) =>
    lookupReferenceData(deps, {
      tenantId: TENANT,
      integrationId: "slack",
      dataType,
      query: { query, connectionId: "default", limit: 5, includeInactive: false },
    });
  for (const query of queries.slice(0, 300)) await run(query);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (const query of queries) {
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await run(query);
    wall.push(performance.now() - started);
    const used = process.cpuUsage(cpuBefore);
    cpu.push((used.user + used.system) / 1000);
  }
  const ascending = (a: number, b: number) => a - b;
  return { wall: wall.sort(ascending), cpu: cpu.sort(ascending) };
}

function warmFigures(key: string, times: { wall: number[]; cpu: number[] }, target?: number): BenchFigure[] {
  const p50 = round(percentile(times.wall, 0.5));
  const p99 = round(percentile(times.wall, 0.99));
  const p99Figure: BenchFigure = { key: `${key}.p99Ms`, value: p99, unit: "ms" };
  if (target !== undefined) {
    p99Figure.target = `<= ${target} ms`;
    p99Figure.ok = p99 <= target;
  }
  const cpuP99 = round(percentile(times.cpu, 0.99));
  return [
    { key: `${key}.p50Ms`, value: p50, unit: "ms" },
    p99Figure,
    { key: `${key}.cpuP99Ms`, value: cpuP99, unit: "ms" },
  ];
}

/** The engine's gc(), for heap figures that do not count garbage. */
function gcFunction(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

export async function run(): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  const gc = gcFunction();

  // Warm, 10k and 100k, in-memory partition reads.
  for (const [size, label, target] of [
    [10_000, "warm10k", 5],
    [100_000, "warm100k", 25],
  ] as const) {
    const items = syntheticUsers(size);
    const ref = refOf(`users${size}`);
    const deps: QueryDeps = {
      repos: memoryRepos(ref, items),
      clock: { now: () => Date.now() },
      cache: new LookupIndexCache(),
    };
    const times = await timeQueries(deps, ref.dataType, mixedQueries(items, 4000));
    figures.push(...warmFigures(`lookup.${label}`, times, target));
  }

  // Heap retained by a cached 100k index (what the LRU holds), after the items it was built from are gone.
  // Typed arrays live outside the V8 heap (arrayBuffers), and most of the index is typed arrays: count both.
  const retained = () => {
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };
  gc();
  const before = retained();
  let index: LookupIndex | undefined = buildLookupIndex(syntheticUsers(100_000, 99), { fields: LOOKUP_FIELDS });
  // A typo query builds the bigram index a warm index keeps for fuzzy matching: count it too.
  lookup(index, "Sarha Conor");
  gc();
  const heapMb = round((retained() - before) / (1024 * 1024), 1);
  figures.push({ key: "lookup.index100k.heapMb", value: heapMb, unit: "MB" });
  if (index.size !== 100_000) throw new Error("index lost items");
  index = undefined;

  // Cold (first lookup after a sync, from the snapshot the worker wrote) and dynalite-warm: real repositories.
  const dynamo = await startDynamo();
  try {
    for (const [size, label] of [
      [10_000, "cold10k"],
      [100_000, "cold100k"],
    ] as const) {
      const cold = await coldLookup(dynamo, size);
      figures.push(...cold.figures(label));
      if (size === 10_000) {
        const times = await timeQueries(cold.deps, "users", mixedQueries(cold.items, 2000, 11));
        figures.push(...warmFigures("lookup.warm10k.dynalite", times));
      }
    }
  } finally {
    await dynamo.stop();
  }
  return figures;
}

/** Cold-lookup target: the first lookup after a sync, at any partition size here. */
const COLD_TARGET_MS = 1000;
/** The snapshot must cost at most this share of the read units of reading every item. */
const COLD_READ_SHARE = 0.1;

/**
 * A committed partition of `size` users on dynalite, as a sync leaves it: its items, and the index snapshot the worker
 * writes at commit (`writeIndexSnapshot`, the worker's own code). Then the first lookup of a cold container (empty
 * cache), median of 3, with the read units it consumed (ReturnConsumedCapacity, which dynalite computes on whole
 * items like DynamoDB), beside the read units of reading every item (the fallback, and the cold path before
 * snapshots).
 */
async function coldLookup(dynamo: TestDynamo, size: number) {
  const tableName = await dynamo.createTable(`lookup-cold-${size}`);
  const doc = createDocumentClient({ endpoint: dynamo.endpoint });
  const counters = countRequests(doc);
  const repos = createRepositories({ doc, tableName });
  const ref = refOf("users");
  const items = syntheticUsers(size);
  const now = Date.now();
  const source = sourceInputOf("users");
  await repos.sources.put(TENANT, "slack", "users", source, now);
  await repos.connections.enroll(TENANT, "slack", "default", now);
  await repos.partitions.ensure(ref, { syncType: "list", now });
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < items.length; i += 1000) {
    writes.push(repos.items.batchPut(ref, items.slice(i, i + 1000)));
    if (writes.length === 8) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  const jobId = "01JOBBENCHCOLD000000000000";
  await repos.partitions.claim(ref, { jobId, now, requeueDeadline: now + 900_000 });
  await repos.partitions.acquireLease(ref, { jobId, owner: "bench", now, leaseMs: 120_000 });
  const log = { info: () => {}, warn: (message: string, ...extra: unknown[]) => console.warn(message, ...extra) };
  const commit = { version: 1, previousVersion: 0, changed: undefined, now };
  const lease = { assertHeld: () => {} };
  const snapshot = await writeIndexSnapshot({ repos, lease, log }, ref, commit, source.referenceData);
  if (snapshot.build !== "full") throw new Error("snapshot not written");
  await repos.partitions.recordSuccess(ref, {
    jobId,
    owner: "bench",
    now,
    nextSyncAt: now + 86_400_000,
    version: 1,
    manifestChunks: 0,
    objectChunks: 0,
    itemCount: items.length,
    startedAt: now,
    full: true,
    snapshotId: snapshot.snapshotId,
  });
  const cache = new LookupIndexCache();
  const deps: QueryDeps = { repos, clock: { now: () => Date.now() }, cache };
  const runs: { ms: number; cpuMs: number; readUnits: number }[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    cache.clear();
    counters.current = emptyCounters();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const result = await lookupReferenceData(deps, {
      tenantId: TENANT,
      integrationId: "slack",
      dataType: "users",
      query: { query: items[1234]?.name ?? "x", connectionId: "default", limit: 5, includeInactive: false },
    });
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpuBefore);
    if (result.matches.length === 0) throw new Error("cold lookup found nothing");
    runs.push({ ms, cpuMs: (used.user + used.system) / 1000, readUnits: counters.current.readUnits });
  }
  counters.current = emptyCounters();
  await repos.items.listSummaries(ref);
  const itemsReadUnits = counters.current.readUnits;
  const median = <K extends keyof (typeof runs)[number]>(key: K) =>
    runs.map((r) => r[key]).sort((a, b) => a - b)[1] ?? 0;
  return {
    deps,
    items,
    figures(label: string): BenchFigure[] {
      const ms = Math.round(median("ms"));
      const readUnits = round(median("readUnits"), 1);
      const share = itemsReadUnits * COLD_READ_SHARE;
      return [
        {
          key: `lookup.${label}.ms`,
          value: ms,
          unit: "ms",
          target: `<= ${COLD_TARGET_MS} ms`,
          ok: ms <= COLD_TARGET_MS,
        },
        // dynalite runs in this process, so this counts its work too: an upper bound of the handler's own CPU.
        { key: `lookup.${label}.cpuMs`, value: Math.round(median("cpuMs")), unit: "ms" },
        {
          key: `lookup.${label}.readUnits`,
          value: readUnits,
          unit: "RCU",
          target: `<= ${round(share, 1)} (1/10 of items)`,
          ok: readUnits <= share,
        },
        { key: `lookup.${label}.itemsReadUnits`, value: round(itemsReadUnits, 1), unit: "RCU" },
      ];
    },
  };
}
