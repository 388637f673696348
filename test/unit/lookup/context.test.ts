import { describe, expect, it } from "vitest";
import type { ItemStatus } from "../../../shared/domain/entities.js";
import { CHARS_PER_TOKEN, type ContextSection, estimateTokens, renderContext } from "../../../shared/lookup/context.js";
import { buildLookupIndex } from "../../../shared/lookup/index.js";

function list(dataType: string, rows: Array<[string, string, Record<string, unknown>?, ItemStatus?]>): ContextSection {
  const index = buildLookupIndex(
    rows.map(([id, name, metadata, status]) => ({
      externalId: id,
      name,
      lookup: { name },
      metadata: metadata ?? {},
      status: status ?? "active",
    })),
  );
  return { dataType, syncType: "list", index };
}

const users = list("users", [
  ["U3", "Zed Zimmer", { email: "zed@x.io" }],
  ["U1", "Derek Osgood", { email: "derek@x.io" }],
  ["U2", "Sarah Chen"],
  ["U4", "Old Timer", {}, "inactive"],
]);
const channels = list("channels", [
  ["C2", "random"],
  ["C1", "general"],
]);

describe("renderContext", () => {
  it("returns Waygate's referenceData shape, objects, text, truncation flags and a token estimate", () => {
    const schema = { dataType: "crm_schema", syncType: "object" as const, object: { fields: ["a", "b"] } };
    const result = renderContext([users, channels, schema], {
      maxTokens: 2000,
      integrationId: "slack",
      connectionId: "default",
    });
    expect(result.referenceData).toEqual({
      users: [
        { id: "U1", name: "Derek Osgood", metadata: { email: "derek@x.io" } },
        { id: "U2", name: "Sarah Chen" },
        { id: "U3", name: "Zed Zimmer", metadata: { email: "zed@x.io" } },
      ],
      channels: [
        { id: "C1", name: "general" },
        { id: "C2", name: "random" },
      ],
    });
    expect(result.objects).toEqual({ crm_schema: { fields: ["a", "b"] } });
    expect(result.truncated).toEqual({ users: false, channels: false, crm_schema: false });
    expect(result.estimatedTokens).toBe(Math.ceil(result.text.length / CHARS_PER_TOKEN));
    expect(result.text).toContain("## users (3 items)");
    expect(result.text).toContain('{"id":"U2","name":"Sarah Chen"}');
    expect(result.text).toContain('{"fields":["a","b"]}');
    expect(result.text).toContain("integration slack");
  });

  it("leaves out inactive and deleted items", () => {
    const result = renderContext([users], { maxTokens: 1000 });
    expect(result.referenceData.users?.map((i) => i.id)).not.toContain("U4");
  });

  it("puts items matching the query first, then the rest by name", () => {
    const result = renderContext([users], { maxTokens: 1000, query: "sarah" });
    expect(result.referenceData.users?.map((i) => i.id)).toEqual(["U2", "U1", "U3"]);
  });

  it("matches the meaningful words of a sentence-like query in every type", () => {
    const result = renderContext([users, channels], {
      maxTokens: 1000,
      query: "send a message to Zed in the random channel",
    });
    expect(result.referenceData.users?.[0]?.id).toBe("U3");
    expect(result.referenceData.channels?.[0]?.id).toBe("C2");
  });

  it("stays within maxTokens and marks what it cut, with a note pointing at the lookup endpoint", () => {
    const many = list(
      "users",
      Array.from({ length: 500 }, (_, i): [string, string] => [`U${i}`, `Person Number ${i}`]),
    );
    for (const maxTokens of [120, 300, 1000, 3000]) {
      const result = renderContext([many], { maxTokens, integrationId: "slack", connectionId: "default" });
      expect(result.estimatedTokens).toBeLessThanOrEqual(maxTokens);
      expect(estimateTokens(result.text)).toBe(result.estimatedTokens);
      expect(result.truncated.users).toBe(true);
      const shown = result.referenceData.users!.length;
      expect(shown).toBeGreaterThan(0);
      expect(result.text).toContain(`## users (${shown} of 500 items)`);
      expect(result.text).toContain(
        `(${500 - shown} more users not shown: resolve a name with GET /api/v1/integrations/slack/reference-data/users/lookup?query=<name>)`,
      );
    }
  });

  it("shares the budget between types instead of letting the first one take it all", () => {
    const big = list(
      "users",
      Array.from({ length: 300 }, (_, i): [string, string] => [`U${i}`, `User ${i}`]),
    );
    const other = list(
      "channels",
      Array.from({ length: 300 }, (_, i): [string, string] => [`C${i}`, `channel-${i}`]),
    );
    const result = renderContext([big, other], { maxTokens: 600 });
    const u = result.referenceData.users!.length;
    const c = result.referenceData.channels!.length;
    expect(u).toBeGreaterThan(5);
    expect(Math.abs(u - c)).toBeLessThanOrEqual(1);
  });

  it("includes an object whole when it fits and otherwise only a note", () => {
    const object = { properties: Array.from({ length: 200 }, (_, i) => ({ name: `field_${i}`, type: "string" })) };
    const section: ContextSection = { dataType: "crm_schema", syncType: "object", object };
    const fits = renderContext([section], { maxTokens: 10_000 });
    expect(fits.objects.crm_schema).toEqual(object);
    expect(fits.truncated.crm_schema).toBe(false);
    const tooBig = renderContext([section], { maxTokens: 500, integrationId: "hubspot" });
    expect(tooBig.objects).toEqual({});
    expect(tooBig.truncated.crm_schema).toBe(true);
    expect(tooBig.text).toContain("crm_schema is too large for this context");
    expect(tooBig.text).toContain("GET /api/v1/integrations/hubspot/reference-data/crm_schema");
    expect(tooBig.estimatedTokens).toBeLessThanOrEqual(500);
  });

  it("says when an object type has never synced", () => {
    const result = renderContext([{ dataType: "crm_schema", syncType: "object", object: undefined }], {
      maxTokens: 100,
    });
    expect(result.text).toContain("(not synced yet)");
    expect(result.objects).toEqual({});
  });

  it("renders each item line as exactly the item's JSON in referenceData", () => {
    const result = renderContext([users, channels], { maxTokens: 1000 });
    for (const items of Object.values(result.referenceData)) {
      for (const item of items) expect(result.text.split("\n")).toContain(JSON.stringify(item));
    }
  });

  it("adds the connection to the note's lookup path for a named connection", () => {
    const many = list(
      "users",
      Array.from({ length: 100 }, (_, i): [string, string] => [`U${i}`, `Person ${i}`]),
    );
    const result = renderContext([many], { maxTokens: 200, integrationId: "slack", connectionId: "conn-7" });
    expect(result.text).toContain("/reference-data/users/lookup?connectionId=conn-7&query=<name>");
  });
});
