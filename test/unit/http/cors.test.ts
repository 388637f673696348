import { describe, expect, it } from "vitest";
import { CORS_ALLOW_HEADERS, corsHeaders, parseOrigins, preflightHeaders } from "../../../shared/http/cors.js";

describe("CORS", () => {
  it("reads ALLOWED_ORIGINS as a list without blanks", () => {
    expect(parseOrigins(" https://a.example, ,https://b.example ")).toEqual(["https://a.example", "https://b.example"]);
    expect(parseOrigins(undefined)).toEqual([]);
  });

  it("echoes an allowed origin (also when any is allowed) and answers nothing to another", () => {
    const origin = "https://app.example";
    expect(corsHeaders(origin, [origin])["Access-Control-Allow-Origin"]).toBe(origin);
    expect(corsHeaders(origin, ["*"])).toMatchObject({ "Access-Control-Allow-Origin": origin, Vary: "Origin" });
    expect(corsHeaders(origin, ["https://other.example"])).toEqual({});
    expect(corsHeaders(undefined, ["*"])).toEqual({});
  });

  it("answers a preflight with the resource's methods, OPTIONS and the allowed headers", () => {
    const headers = preflightHeaders(["GET", "PUT"]);
    expect(headers["Access-Control-Allow-Methods"]).toBe("GET,PUT,OPTIONS");
    expect(headers["Access-Control-Allow-Headers"]).toBe(CORS_ALLOW_HEADERS.join(","));
  });
});
