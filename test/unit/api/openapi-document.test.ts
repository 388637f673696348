import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { handler } from "../../../functions/api-config/handler.js";
import { ROUTES } from "../../../shared/http/routes.js";
import { apiEvent, lambdaContext } from "../../support/api-events.js";

/**
 * The document as served, kept to see that moving code never changes it. A new or changed route changes it on purpose:
 * `UPDATE_OPENAPI_SNAPSHOT=1 npx vitest run test/unit/api/openapi-document.test.ts && npm run format`.
 */
const SNAPSHOT = new URL("./__snapshots__/openapi.json", import.meta.url);

describe("the served OpenAPI document", () => {
  it("documents every route of the table and stays the same document when the API's modules move", async () => {
    const response = await handler(
      apiEvent({ method: "GET", path: "/api/v1/openapi.json", caller: null }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(200);
    const document = JSON.parse(response.body) as { paths: Record<string, Record<string, { operationId: string }>> };
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => `${method.toUpperCase()} ${path} ${op.operationId}`),
    );
    expect(operations.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path} ${r.operationId}`).sort());
    if (process.env.UPDATE_OPENAPI_SNAPSHOT === "1") writeFileSync(SNAPSHOT, `${JSON.stringify(document, null, 2)}\n`);
    expect(document).toEqual(JSON.parse(readFileSync(SNAPSHOT, "utf8")));
  });
});
