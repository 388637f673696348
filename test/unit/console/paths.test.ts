/** The console's pure logic that decides where it calls and which integrations it offers. */
import { describe, expect, it } from "vitest";
import { apiBaseOf } from "../../../console/src/paths.js";
import { integrationList, integrationsOf } from "../../../console/src/types.js";

describe("console paths", () => {
  it("finds the API beside the console under any stage or base path", () => {
    expect(apiBaseOf("/console")).toBe("/api/v1");
    expect(apiBaseOf("/console/")).toBe("/api/v1");
    expect(apiBaseOf("/prod/console")).toBe("/prod/api/v1");
    expect(apiBaseOf("/a/b/console/")).toBe("/a/b/api/v1");
  });
});

describe("integrations offered by the console", () => {
  it("reads listings of IDs or of objects, and skips entries without an ID", () => {
    expect(
      integrationList(["a", { integrationId: "b", slug: "slack" }, { id: "c", status: "active" }, { x: 1 }, 7]),
    ).toEqual([{ id: "a" }, { id: "b", slug: "slack" }, { id: "c", status: "active" }]);
    expect(integrationList(3)).toEqual([]);
  });

  it("takes a discovery report's integrations when listed, and those its problems name", () => {
    const report = {
      status: "completed",
      integrations: 2,
      problems: [{ integrationId: "i-1", code: "INVALID_CONFIG", message: "bad" }],
    };

    expect(integrationsOf(report)).toEqual([{ id: "i-1" }]);
    expect(integrationsOf({ ...report, integrations: [{ id: "i-2" }] }).map((known) => known.id)).toEqual([
      "i-2",
      "i-1",
    ]);
  });
});
