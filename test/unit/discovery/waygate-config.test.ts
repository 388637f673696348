import { describe, expect, it } from "vitest";
import { mergeExtensions, patchExtensions } from "../../../shared/discovery/extensions.js";
import {
  buildDiscoveredSource,
  mapAction,
  mapPagination,
  underRoot,
} from "../../../shared/discovery/waygate-config.js";

const action = (referenceData: Record<string, unknown>, paginationConfig?: unknown) => ({
  slug: "list-users",
  metadata: { referenceData },
  paginationConfig,
});

describe("Waygate paginationConfig → our pagination", () => {
  it("maps shape B (pagination.schemas.ts) cursor, offset and page_number, with defaultPageSize as the page size", () => {
    expect(
      mapPagination({
        enabled: true,
        strategy: "cursor",
        cursorParam: "cursor",
        cursorPath: "$.meta.next",
        limitParam: "limit",
        defaultPageSize: 50,
      }),
    ).toEqual({
      pagination: {
        strategy: "cursor",
        cursorParam: "cursor",
        cursorPath: "$.meta.next",
        limitParam: "limit",
        pageSize: 50,
      },
    });
    expect(mapPagination({ enabled: true, strategy: "offset", offsetParam: "skip", limitParam: "take" })).toEqual({
      pagination: { strategy: "offset", offsetParam: "skip", limitParam: "take", pageSize: 100 },
    });
    expect(
      mapPagination({ strategy: "page_number", pageParam: "p", limitParam: "per_page", defaultPageSize: 5 }),
    ).toEqual({
      pagination: { strategy: "page", pageParam: "p", limitParam: "per_page", pageSize: 5, startPage: 1 },
    });
  });

  it("maps shape A (action.schemas.ts): responseNextCursorPath, and offset taking its parameter from pageParam", () => {
    expect(
      mapPagination({ type: "cursor", cursorParam: "after", responseNextCursorPath: "paging.next.after" }),
    ).toEqual({
      pagination: { strategy: "cursor", cursorParam: "after", cursorPath: "paging.next.after" },
    });
    expect(mapPagination({ type: "offset", pageParam: "start", limitParam: "count" })).toEqual({
      pagination: { strategy: "offset", offsetParam: "start", limitParam: "count", pageSize: 100 },
    });
  });

  it("reads none, enabled: false and auto as no pagination; a shape-B config without enabled is on when it names parameters", () => {
    for (const raw of [
      undefined,
      null,
      {},
      { enabled: false, strategy: "cursor", cursorParam: "c", cursorPath: "$.n" },
      { enabled: true, strategy: "auto" },
    ]) {
      expect(mapPagination(raw)).toEqual({ pagination: { strategy: "none" } });
    }
    expect(mapPagination({ strategy: "cursor" })).toEqual({ pagination: { strategy: "none" } });
    expect(mapPagination({ strategy: "cursor", cursorParam: "c", cursorPath: "$.n" })).toMatchObject({
      pagination: { strategy: "cursor" },
    });
  });

  it("reports link headers as PAGINATION_UNSUPPORTED with the field, and a cursor without its path as invalid", () => {
    expect(mapPagination({ type: "link" })).toMatchObject({
      problem: { code: "PAGINATION_UNSUPPORTED", field: "paginationConfig.type" },
    });
    expect(mapPagination({ enabled: true, strategy: "link_header" })).toMatchObject({
      problem: { code: "PAGINATION_UNSUPPORTED", field: "paginationConfig.strategy" },
    });
    expect(mapPagination({ enabled: true, strategy: "cursor", cursorParam: "c" })).toMatchObject({
      problem: { code: "PAGINATION_INVALID", field: "paginationConfig.cursorPath" },
    });
  });
});

describe("Waygate action → source", () => {
  it("ignores actions that are not syncable", () => {
    expect(mapAction({ slug: "post", metadata: {} })).toEqual({ kind: "not_syncable" });
    expect(mapAction(action({ dataType: "users", syncable: false }))).toEqual({ kind: "not_syncable" });
  });

  it("reads paths without a leading $ under the root, as Waygate's extractByPath does", () => {
    expect(underRoot("members[*]")).toBe("$.members[*]");
    expect(underRoot("data.items")).toBe("$.data.items");
    expect(underRoot("[0]")).toBe("$[0]");
    expect(underRoot("$.value[*]")).toBe("$.value[*]");
    const mapped = mapAction(action({ dataType: "users", syncable: true, extractionPath: "members[*]" }));
    expect(mapped).toMatchObject({ kind: "source", discoveredConfig: { extractionPath: "$.members[*]" } });
  });

  it("raises a TTL under the minimum with a note instead of rejecting it", () => {
    const mapped = mapAction(
      action({ dataType: "users", syncable: true, extractionPath: "$.m", defaultTtlSeconds: 30 }),
    );
    expect(mapped).toMatchObject({
      kind: "source",
      discoveredConfig: { defaultTtlSeconds: 60 },
      notes: [{ code: "TTL_RAISED", field: "metadata.referenceData.defaultTtlSeconds" }],
    });
  });

  it("keeps only the seed's fields of metadata.referenceData, as Waygate's schema does", () => {
    const mapped = mapAction(
      action({ dataType: "users", syncable: true, extractionPath: "$.m", deletedField: "deleted" }),
    );
    expect(mapped.kind === "source" && mapped.discoveredConfig).not.toHaveProperty("deletedField");
  });

  it("says exactly why a dataType cannot be stored", () => {
    expect(mapAction(action({ dataType: "user types!", syncable: true }))).toMatchObject({
      kind: "invalid",
      problem: {
        code: "INVALID_DATA_TYPE",
        field: "metadata.referenceData.dataType",
        message: expect.stringMatching(/cannot be stored/),
      },
    });
    expect(mapAction(action({ dataType: "sync", syncable: true }))).toMatchObject({
      problem: { code: "INVALID_DATA_TYPE", message: expect.stringMatching(/reserved/) },
    });
  });

  it("validates the merged config like a PUT and names the failing field where it came from", () => {
    const a = action({});
    const bad = buildDiscoveredSource("slack", a, { dataType: "users", extractionPath: "$.m[" }, undefined);
    expect(bad).toMatchObject({
      ok: false,
      problem: { code: "INVALID_CONFIG", field: "metadata.referenceData.extractionPath" },
    });
    const badExtension = buildDiscoveredSource(
      "slack",
      a,
      { dataType: "users", extractionPath: "$.m" },
      { deletedField: "a..b" },
    );
    expect(badExtension).toMatchObject({ ok: false, problem: { field: "extensions.deletedField" } });
    const good = buildDiscoveredSource(
      "slack",
      a,
      { dataType: "users", extractionPath: "$.m" },
      { deletedField: "deleted" },
    );
    expect(good).toMatchObject({
      ok: true,
      input: { referenceData: { deletedField: "deleted", extractionPath: "$.m" } },
    });
  });
});

describe("extensions", () => {
  it("merge key by key, null removing one, and lie over the discovered config", () => {
    expect(
      patchExtensions(
        { deletedField: "deleted", request: { limit: 1 } },
        { request: null, incremental: { sinceParam: "s" } },
      ),
    ).toEqual({
      deletedField: "deleted",
      incremental: { sinceParam: "s" },
    });
    expect(patchExtensions({ request: {} }, { request: null })).toBeUndefined();
    expect(
      mergeExtensions({ dataType: "u", pagination: { strategy: "none" } }, { pagination: { strategy: "page" } }),
    ).toEqual({
      dataType: "u",
      pagination: { strategy: "page" },
    });
  });
});
