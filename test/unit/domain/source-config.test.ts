import { describe, expect, it } from "vitest";
import { ValidationError } from "../../../shared/domain/errors.js";
import { lookupFieldsOf, referenceDataConfigSchema, sourceInputSchema } from "../../../shared/domain/source-config.js";
import { parseOrThrow } from "../../../shared/domain/validate.js";

const slackUsers = {
  dataType: "users",
  syncable: true,
  syncType: "list",
  extractionPath: "$.members[*]",
  idField: "id",
  nameField: "profile.real_name",
  lookupFields: ["profile.real_name", "name", "profile.email"],
  metadataFields: ["profile.email", "is_bot"],
  deletedField: "deleted",
  pagination: { strategy: "cursor", cursorPath: "$.response_metadata.next_cursor", cursorParam: "cursor" },
  incremental: { sinceParam: "updated_since", fullSyncEverySeconds: 86400 },
  request: { limit: 200 },
};

describe("referenceDataConfigSchema", () => {
  it("accepts a Slack users config and applies defaults", () => {
    const config = referenceDataConfigSchema.parse({ dataType: "channels", extractionPath: "$.channels" });
    expect(config).toMatchObject({
      syncType: "list",
      fuzzyMatch: true,
      defaultTtlSeconds: 86400,
      idField: "id",
      nameField: "name",
      pagination: { strategy: "none" },
    });
    expect(referenceDataConfigSchema.parse(slackUsers).pagination).toMatchObject({ strategy: "cursor" });
  });

  it("fills pagination defaults for offset and page strategies", () => {
    const offset = referenceDataConfigSchema.parse({ ...slackUsers, pagination: { strategy: "offset" } });
    expect(offset.pagination).toEqual({
      strategy: "offset",
      offsetParam: "offset",
      limitParam: "limit",
      pageSize: 100,
    });
    const page = referenceDataConfigSchema.parse({ ...slackUsers, pagination: { strategy: "page", pageSize: 50 } });
    expect(page.pagination).toMatchObject({ strategy: "page", pageParam: "page", pageSize: 50, startPage: 1 });
  });

  it("reads configs as Waygate does: a path without a leading $ under the root, a TTL under 60 s raised to 60", () => {
    const parsed = referenceDataConfigSchema.parse({
      ...slackUsers,
      extractionPath: "members[*]",
      defaultTtlSeconds: 5,
    });
    expect(parsed.extractionPath).toBe("$.members[*]");
    expect(parsed.defaultTtlSeconds).toBe(60);
    expect(referenceDataConfigSchema.parse({ ...slackUsers, extractionPath: "data.items" }).extractionPath).toBe(
      "$.data.items",
    );
  });

  it.each([
    [{ extractionPath: "$.members[" }, "extractionPath"],
    [{ extractionPath: "$.members[?(@.x)]" }, "extractionPath"],
    [{ idField: "a..b" }, "idField"],
    [{ defaultTtlSeconds: 31_536_001 }, "defaultTtlSeconds"],
    [{ dataType: "sync" }, "dataType"],
    [{ dataType: "a#b" }, "dataType"],
    [{ pagination: { strategy: "cursor", cursorParam: "cursor" } }, "pagination.cursorPath"],
    [{ pagination: { strategy: "smoke" } }, "pagination.strategy"],
    [{ metadataFields: ["ok", "bad[0]"] }, "metadataFields.1"],
    [{ unexpected: true }, "(root)"],
  ])("rejects %j naming the field %s", (patch, field) => {
    expect(() => parseOrThrow(referenceDataConfigSchema, { ...slackUsers, ...patch }, "source")).toThrow(
      ValidationError,
    );
    try {
      parseOrThrow(referenceDataConfigSchema, { ...slackUsers, ...patch }, "source");
    } catch (error) {
      const issues = (error as ValidationError).details?.issues as { field: string }[];
      expect(issues.map((i) => i.field)).toContain(field);
    }
  });

  it.each([
    [{ since_id: JSON.parse("12345678901234567890") as number }, "referenceData.request.since_id"],
    [{ nested: { tiny: 1e-200 } }, "referenceData.request.nested.tiny"],
    [{ list: [1, 1e130] }, "referenceData.request.list.1"],
  ])("rejects fixed input DynamoDB cannot store exactly: %j", (request, field) => {
    const input = { integrationSlug: "slack", actionSlug: "list-users", referenceData: { ...slackUsers, request } };
    try {
      parseOrThrow(sourceInputSchema, input, "source");
      expect.unreachable();
    } catch (error) {
      const issues = (error as ValidationError).details?.issues as { field: string }[];
      expect(issues.map((i) => i.field)).toEqual([field]);
    }
  });

  it("accepts ordinary fixed input", () => {
    const request = { limit: 200, ratio: 0.5, zero: 0, big: 2 ** 53 - 1, tags: ["a"], nested: { on: true } };
    expect(referenceDataConfigSchema.parse({ ...slackUsers, request }).request).toEqual(request);
  });

  it("requires an extraction path for list syncs but not for object syncs", () => {
    const { extractionPath: _omit, ...withoutPath } = slackUsers;
    expect(referenceDataConfigSchema.safeParse(withoutPath).success).toBe(false);
    expect(referenceDataConfigSchema.safeParse({ dataType: "crm_schema", syncType: "object" }).success).toBe(true);
  });

  it("prefixes field names of a nested config in source input errors", () => {
    const input = { integrationSlug: "slack", actionSlug: "list-users", referenceData: { ...slackUsers, idField: "" } };
    try {
      parseOrThrow(sourceInputSchema, input, "source");
      expect.unreachable();
    } catch (error) {
      expect((error as ValidationError).message).toContain("referenceData.idField");
    }
  });

  it("searches the name field when no lookup fields are configured", () => {
    const config = referenceDataConfigSchema.parse({ dataType: "repos", extractionPath: "$", nameField: "full_name" });
    expect(lookupFieldsOf(config)).toEqual(["full_name"]);
    expect(lookupFieldsOf(referenceDataConfigSchema.parse(slackUsers))).toEqual(slackUsers.lookupFields);
  });
});
