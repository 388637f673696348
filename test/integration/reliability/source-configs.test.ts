/**
 * Source configs through the real path (issue 7): random `referenceData` configs are PUT through the deployed
 * api-config handler, then synced by the worker against the sample gateway on loopback.
 * - Invalid ones (a valid config with one field broken) are rejected at save time with 400 naming that field, and
 *   change nothing that was stored.
 * - Valid ones never crash a sync, whatever they point at (paths that match nothing, ids that are not ids, cursors
 *   that repeat, inputs the action refuses): the job ends completed, or failed with a code; the partition is never
 *   left queued or syncing; nothing is redelivered or dead-lettered.
 * Values DynamoDB cannot store (numbers beyond 2^53 or outside 1E-130..9.99E+125) have their own tests at the end.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultDatasets, SAMPLE_SOURCES } from "../../../infra/local/sample-gateway/index.js";
import type { PartitionRef } from "../../../shared/domain/ids.js";
import { canonicalJson } from "../../../shared/extraction/extract.js";
import type { ApiHandler } from "../../../shared/http/middleware.js";
import { apiEvent, lambdaContext, parseResponse } from "../../support/api-events.js";
import { useWorldRuntime } from "../../support/reliability/handler-env.js";
import { wholeResponse } from "../../support/reliability/upstream.js";
import { freshWorld, type Servers, type SourceSpec, startServers, type World } from "../../support/sync-harness.js";

const TENANT = "t-configs";
const INTEGRATION = "fuzzed";

let servers: Servers;
let world: World;
let restore: () => void;
let putHandler: ApiHandler;

beforeAll(async () => {
  servers = await startServers();
  world = await freshWorld(servers);
  world.gateway.data = defaultDatasets();
  restore = useWorldRuntime(world);
  putHandler = (await import("../../../functions/api-config/handler.js")).handler;
  await world.repos.connections.enroll(TENANT, INTEGRATION, "default", world.clock.now());
});
afterAll(async () => {
  restore?.();
  await servers?.stop();
});

async function putSource(dataType: string, body: unknown) {
  const event = apiEvent({
    method: "PUT",
    path: `/api/v1/integrations/${INTEGRATION}/reference-data/sources/${dataType}`,
    body,
    caller: { tenantId: TENANT, scopes: ["admin"] },
  });
  return parseResponse(await putHandler(event, lambdaContext()));
}

// ------------------------------------------------------------------------------------------------ generators

const ACTIONS = [
  ["slack", "list-users"],
  ["slack", "list-channels"],
  ["slack", "list-users-paged"],
  ["github", "list-repos"],
  ["microsoft-graph", "list-users"],
  ["hubspot", "get-crm-schema"],
] as const;

const FIELD = fc.constantFrom(
  "id",
  "name",
  "profile.real_name",
  "profile.email",
  "displayName",
  "full_name",
  "team_id",
  "missing",
  "0",
  "topic.value",
);
const LIST_PATH = fc.constantFrom(
  "$.members[*]",
  "$.members",
  "$.channels[*]",
  "$.value[*]",
  "$",
  "$[*]",
  "$.*",
  "$.members[0]",
  "$['@odata.context']",
  "$.nothing[*]",
  "$.response_metadata",
);
const VALUE_PATH = fc.constantFrom(
  "response_metadata.next_cursor",
  "$['@odata.nextLink']",
  "cache_ts",
  "members.0.id",
  "missing",
  "$.ok",
);
const maxPages = fc.integer({ min: 1, max: 12 });

const pagination = fc.oneof(
  fc.constant({ strategy: "none" }),
  fc.record(
    {
      strategy: fc.constant("cursor"),
      cursorPath: VALUE_PATH,
      cursorParam: fc.constantFrom("cursor", "$skiptoken", "page", "continuationToken"),
      limitParam: fc.constantFrom("limit", "per_page", "$top"),
      pageSize: fc.integer({ min: 1, max: 50 }),
      maxPages,
    },
    { requiredKeys: ["strategy", "cursorPath", "cursorParam"] },
  ),
  fc.record({
    strategy: fc.constant("offset"),
    offsetParam: fc.constantFrom("offset", "skip"),
    limitParam: fc.constantFrom("limit", "$top"),
    pageSize: fc.integer({ min: 1, max: 20 }),
    maxPages,
  }),
  fc.record({
    strategy: fc.constant("page"),
    pageParam: fc.constantFrom("page", "p"),
    limitParam: fc.constantFrom("per_page", "limit"),
    pageSize: fc.integer({ min: 1, max: 20 }),
    startPage: fc.integer({ min: 0, max: 2 }),
    maxPages,
  }),
  fc.record(
    { strategy: fc.constant("link"), nextLinkPath: VALUE_PATH, maxPages },
    { requiredKeys: ["strategy", "nextLinkPath"] },
  ),
  fc.record({ strategy: fc.constant("gateway"), maxPages }, { requiredKeys: ["strategy"] }),
);

const request = fc.option(
  fc.dictionary(
    fc.constantFrom("limit", "per_page", "$top", "types", "exclude_archived", "cursor", "page"),
    fc.oneof(fc.integer({ min: -1, max: 300 }), fc.constantFrom("public_channel", "", "abc", true, false)),
    { maxKeys: 3 },
  ),
  { nil: undefined },
);

/** A valid source for one of the sample gateway's actions, with random (sometimes senseless) choices. */
const validSource = fc
  .record({
    action: fc.constantFrom(...ACTIONS),
    list: fc.boolean(),
    extractionPath: LIST_PATH,
    idField: FIELD,
    nameField: FIELD,
    lookupFields: fc.option(fc.uniqueArray(FIELD, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    fuzzyMatch: fc.boolean(),
    metadataFields: fc.uniqueArray(fc.constantFrom("profile.email", "is_bot", "api_token", "private", "mail", "x.y"), {
      maxLength: 3,
    }),
    defaultTtlSeconds: fc.integer({ min: 60, max: 31_536_000 }),
    deletedField: fc.option(fc.constantFrom("deleted", "is_archived", "private", "missing"), { nil: undefined }),
    // String booleans and numbers: what an upstream whose field changed type sends.
    deletedValues: fc.option(
      fc.uniqueArray(fc.constantFrom<string | number | boolean>("true", "false", "0", "1", 0, 1, "archived"), {
        maxLength: 3,
      }),
      { nil: undefined },
    ),
    pagination,
    incremental: fc.option(
      fc.record({
        sinceParam: fc.constantFrom("updated_since", "since"),
        fullSyncEverySeconds: fc.integer({ min: 300, max: 1_000_000 }),
      }),
      { nil: undefined },
    ),
    request,
  })
  .map((choice) => {
    const [integrationSlug, actionSlug] = choice.action;
    const list = choice.list || actionSlug !== "get-crm-schema";
    const referenceData: Record<string, unknown> = {
      syncType: list ? "list" : "object",
      idField: choice.idField,
      nameField: choice.nameField,
      fuzzyMatch: choice.fuzzyMatch,
      metadataFields: choice.metadataFields,
      defaultTtlSeconds: choice.defaultTtlSeconds,
      pagination: choice.pagination,
    };
    if (list) referenceData.extractionPath = choice.extractionPath;
    if (list && choice.incremental) referenceData.incremental = choice.incremental;
    if (choice.lookupFields) referenceData.lookupFields = choice.lookupFields;
    if (choice.deletedField) referenceData.deletedField = choice.deletedField;
    if (choice.deletedField && choice.deletedValues) referenceData.deletedValues = choice.deletedValues;
    if (choice.request) referenceData.request = choice.request;
    return { integrationSlug, actionSlug, referenceData };
  });

/** One field broken at a time, with the field the 400 must name. */
const BREAKAGES: { field: string; value: unknown }[] = [
  { field: "extractionPath", value: "$.members[" },
  { field: "extractionPath", value: "$..members" },
  { field: "extractionPath", value: "$.members[?(@.deleted)]" },
  // `members[*]` is read as `$.members[*]`, as Waygate's path reader does (DESIGN.md): still a bad path here.
  { field: "extractionPath", value: "members[" },
  { field: "idField", value: "" },
  { field: "idField", value: "profile..id" },
  { field: "nameField", value: "$.name" },
  { field: "nameField", value: "names[0]" },
  { field: "lookupFields", value: ["name", "a b"] },
  { field: "lookupFields", value: Array.from({ length: 11 }, (_, i) => `f${i}`) },
  { field: "metadataFields", value: ["ok", "*"] },
  // A TTL under 60 s is raised to 60 (DESIGN.md); above a year, or not whole, it is refused.
  { field: "defaultTtlSeconds", value: 31_536_001 },
  { field: "defaultTtlSeconds", value: 90.5 },
  { field: "defaultTtlSeconds", value: "3600" },
  { field: "deletedField", value: "" },
  { field: "syncType", value: "tree" },
  { field: "fuzzyMatch", value: "yes" },
  { field: "syncable", value: "true" },
  { field: "pagination", value: { strategy: "cursor", cursorParam: "cursor" } },
  { field: "pagination", value: { strategy: "offset", pageSize: 0 } },
  { field: "pagination", value: { strategy: "page", maxPages: 0 } },
  { field: "pagination", value: { strategy: "link", nextLinkPath: "$.links[*]" } },
  { field: "pagination", value: { strategy: "scroll" } },
  { field: "pagination", value: { strategy: "none", pageSize: 10 } },
  { field: "incremental", value: { sinceParam: "since", fullSyncEverySeconds: 10 } },
  { field: "incremental", value: { sinceParam: "" } },
  { field: "request", value: ["limit", 10] },
  // Deeper than DynamoDB's 32 levels once stored: a 400 naming the field, never a 500 or a failed write.
  { field: "request", value: JSON.parse(`${'{"a":'.repeat(40)}1${"}".repeat(40)}`) },
  { field: "deletedValues", value: "true" },
  { field: "deletedValues", value: [{ deleted: true }] },
  { field: "dataType", value: "sync" },
  { field: "dataType", value: "another-type" },
  { field: "extractionPaths", value: "$.members[*]" },
];

// ------------------------------------------------------------------------------------------------ tests

let types = 0;

describe("saving random source configs", () => {
  it("rejects an invalid referenceData with 400 naming the broken field, and stores nothing (property)", async () => {
    const dataType = `invalid-${++types}`;
    const [first] = fc.sample(validSource, { numRuns: 1, seed: 3 });
    const before = await putSource(dataType, { ...first, referenceData: { ...first?.referenceData, dataType } });
    expect(before.status, JSON.stringify(before.body)).toBe(201);
    const stored = await world.repos.sources.get(TENANT, INTEGRATION, dataType);

    await fc.assert(
      fc.asyncProperty(validSource, fc.constantFrom(...BREAKAGES), async (source, breakage) => {
        const referenceData = { ...source.referenceData, dataType, [breakage.field]: breakage.value };

        const res = await putSource(dataType, { ...source, referenceData });

        expect(res.status, JSON.stringify(res.body)).toBe(400);
        expect(res.body.error?.code).toBe("VALIDATION_ERROR");
        const issues = (res.body.error?.details?.issues ?? []) as { field: string; message: string }[];
        const named = issues.some(
          (issue) =>
            issue.field.startsWith(`referenceData.${breakage.field}`) ||
            (issue.field === "referenceData" && issue.message.includes(breakage.field)),
        );
        expect(named, `${breakage.field}: ${JSON.stringify(issues)}`).toBe(true);
        expect(res.body.error?.message).toContain(breakage.field);
        expect(await world.repos.sources.get(TENANT, INTEGRATION, dataType)).toEqual(stored);
      }),
      { numRuns: 60, seed: 9_101, endOnFailure: true },
    );
  });

  it("syncs every valid config to completion or to a failure with a code, never leaving it stuck (property)", async () => {
    const outcomes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(validSource, async (source) => {
        const dataType = `valid-${++types}`;
        const ref: PartitionRef = { tenantId: TENANT, integrationId: INTEGRATION, connectionId: "default", dataType };
        const saved = await putSource(dataType, { ...source, referenceData: { ...source.referenceData, dataType } });
        expect(saved.status, JSON.stringify(saved.body)).toBe(201);

        await world.plan();
        const { results } = await world.drain();

        expect(results.filter((r) => r.status !== "synced")).toEqual([]);
        expect(await world.takeDeadLetters()).toEqual([]);
        const partition = await world.partition(ref);
        expect(["idle", "failed", "paused"], JSON.stringify(partition)).toContain(partition.status);
        const job = await world.repos.jobs.get(TENANT, INTEGRATION, partition.lastJobId ?? "");
        expect(["completed", "failed"]).toContain(job?.status);
        if (job?.status === "failed") {
          expect(job.error?.code).toEqual(expect.stringMatching(/^[A-Z_0-9]+$/));
          outcomes.add(`failed:${job.error?.code}`);
        } else {
          outcomes.add("completed");
          if (source.referenceData.syncType === "object") {
            const stored = await world.repos.objects.read(ref, partition.version, partition.objectChunks, "x");
            const upstream = wholeResponse(source.integrationSlug, source.actionSlug, world.gateway.data);
            expect(canonicalJson(stored?.object)).toBe(canonicalJson(upstream));
          } else {
            const items = await world.items(ref);
            expect(partition.itemCount).toBe(items.filter((item) => item.status === "active").length);
            expect(job?.itemsFound).toBe(items.length);
          }
        }
      }),
      { numRuns: 30, seed: 9_103, endOnFailure: true },
    );
    // The generator reaches both ends: syncs that complete, and configs the upstream refuses or that loop.
    expect(outcomes.has("completed"), [...outcomes].join()).toBe(true);
    expect(
      [...outcomes].some((outcome) => outcome.startsWith("failed:")),
      [...outcomes].join(),
    ).toBe(true);
  });
});

describe("numbers DynamoDB cannot store", () => {
  const base = (): SourceSpec => {
    const users = SAMPLE_SOURCES.find((s) => s.integrationId === "slack" && s.dataType === "users");
    if (!users) throw new Error("no sample Slack users source");
    return { integrationSlug: users.integrationSlug, actionSlug: users.actionSlug, referenceData: users.referenceData };
  };

  it("answers 400 naming referenceData.request, not 500, when the fixed input holds a number DynamoDB refuses", async () => {
    // A 64-bit id in a JSON body parses to an unsafe integer; 1e-200 is below DynamoDB's number range.
    for (const value of [JSON.parse("12345678901234567890") as number, 1e-200]) {
      const dataType = `numbers-${++types}`;
      const source = base();

      const res = await putSource(dataType, {
        ...source,
        referenceData: { ...source.referenceData, dataType, request: { since_id: value } },
      });

      expect(res.status, `${value}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
      if (res.status >= 400) expect(JSON.stringify(res.body.error?.details)).toContain("referenceData.request");
    }
  });

  it("ends the sync (completed, or failed with a code) when an upstream item holds a number DynamoDB refuses", async () => {
    // A Discord-style 64-bit id, a value below DynamoDB's number range, one above it: all plain JSON numbers upstream.
    for (const value of [JSON.parse("18446744073709551615") as number, 1e-300, 1e200]) {
      const dataType = `poison-${++types}`;
      const source = base();
      const ref: PartitionRef = { tenantId: TENANT, integrationId: INTEGRATION, connectionId: "default", dataType };
      const data = defaultDatasets();
      const derek = data.slackUsers[0];
      if (!derek) throw new Error("no sample user");
      (derek.profile as Record<string, unknown>).title = value;
      world.gateway.data = data;
      try {
        const saved = await putSource(dataType, { ...source, referenceData: { ...source.referenceData, dataType } });
        expect(saved.status).toBe(201);
        await world.plan();

        const { results } = await world.drain();

        const retried = results.filter((r) => r.status === "retry");
        expect(retried, `${value}: redelivered as transient, then dead-lettered by the redrive policy`).toEqual([]);
        const partition = await world.partition(ref);
        expect(["idle", "failed"], `${value}`).toContain(partition.status);
        const job = await world.repos.jobs.get(TENANT, INTEGRATION, partition.lastJobId ?? "");
        expect(job?.status === "completed" || typeof job?.error?.code === "string", `${value}`).toBe(true);
      } finally {
        world.gateway.data = defaultDatasets();
        await world.takeDeadLetters();
      }
    }
  });
});
