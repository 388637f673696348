import { describe, expect, it } from "vitest";
import { parseDotPath, parseJsonPath, parseValuePath, readValue } from "../../../shared/domain/paths.js";

describe("parseJsonPath", () => {
  it.each([
    ["$", 0],
    ["$.members[*]", 2],
    ["$.members", 1],
    ["$['@odata.nextLink']", 1],
    ['$["value"][0].id', 3],
    ["$.*", 1],
    ["$.response_metadata.next_cursor", 2],
  ])("accepts %s", (path, segments) => {
    const parsed = parseJsonPath(path);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.segments).toHaveLength(segments);
  });

  it.each([
    ["members", "must start"],
    ["$.members[", "unclosed"],
    ["$..id", "recursive"],
    ["$.members[?(@.id)]", "unsupported"],
    ["$.members[(@.length-1)]", "unsupported"],
    ["$.", "expected a member"],
    ["$[''].a", "empty member"],
    ["$ .a", "unexpected"],
  ])("rejects %s with a reason", (path, reason) => {
    const parsed = parseJsonPath(path);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(reason);
  });
});

describe("parseDotPath", () => {
  it("splits nested fields", () => {
    expect(parseDotPath("profile.real_name")).toEqual({
      ok: true,
      segments: [
        { kind: "member", name: "profile" },
        { kind: "member", name: "real_name" },
      ],
    });
  });

  it.each(["", "a..b", "a.", "a[0]", "a.*", "$x", "a b"])("rejects %j", (path) => {
    expect(parseDotPath(path).ok).toBe(false);
  });
});

describe("parseValuePath", () => {
  it("rejects wildcards because a value path points at one value", () => {
    expect(parseValuePath("$.items[*].id").ok).toBe(false);
  });
});

describe("readValue", () => {
  const user = { id: 7, profile: { real_name: "Sarah Chen", emails: ["a@x", "b@x"] }, "@odata.nextLink": "u" };

  it("reads nested dot paths, array indexes and bracket members", () => {
    expect(readValue(user, "profile.real_name")).toBe("Sarah Chen");
    expect(readValue(user, "profile.emails.1")).toBe("b@x");
    expect(readValue(user, "$['@odata.nextLink']")).toBe("u");
  });

  it("returns undefined for absent fields and inherited properties", () => {
    expect(readValue(user, "profile.missing.deeper")).toBeUndefined();
    expect(readValue(user, "constructor")).toBeUndefined();
    expect(readValue(user, "profile.toString")).toBeUndefined();
  });
});
