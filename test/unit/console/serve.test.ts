/** Serving the admin console's files: the page, its assets, unknown names, revalidation, and the security headers. */
import type { APIGatewayProxyEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import type { ConsoleAssets } from "../../../shared/console/assets.js";
import { CONSOLE_CSP, consoleResponse } from "../../../shared/console/serve.js";
import { consoleUrlOf, matchConsoleRoute } from "../../../shared/http/routes.js";

const assets: ConsoleAssets = {
  files: {
    "index.html": {
      body: '<script type="module" src="%BASE%app.js"></script>',
      contentType: "text/html; charset=utf-8",
    },
    "app.js": { body: "console.log(1)", contentType: "text/javascript; charset=utf-8" },
  },
};

function event(path: string, extra: Partial<APIGatewayProxyEvent> = {}) {
  const route = matchConsoleRoute(path);
  return {
    path,
    httpMethod: "GET",
    headers: {},
    pathParameters: route?.asset === undefined ? null : { asset: route.asset },
    ...extra,
  };
}

describe("console files", () => {
  it("serves the page with its files linked relative to the page, under any base path", () => {
    const page = consoleResponse(event("/console"), assets);
    const slash = consoleResponse(event("/console/"), assets);

    expect(page.statusCode).toBe(200);
    expect(page.headers?.["Content-Type"]).toBe("text/html; charset=utf-8");
    expect(page.body).toBe('<script type="module" src="console/app.js"></script>');
    expect(slash.body).toBe('<script type="module" src="app.js"></script>');
  });

  it("serves an asset with its content type, and 404 for an unknown name or the page under an asset name", () => {
    expect(consoleResponse(event("/console/app.js"), assets)).toMatchObject({
      statusCode: 200,
      body: "console.log(1)",
    });
    expect(consoleResponse(event("/console/app.js"), assets).headers?.["Content-Type"]).toMatch(/^text\/javascript/);
    expect(consoleResponse(event("/console/nope.js"), assets).statusCode).toBe(404);
    expect(consoleResponse(event("/console/index.html"), assets).statusCode).toBe(404);
    expect(consoleResponse(event("/console/%E0%A4%A"), assets).statusCode).toBe(404);
  });

  it("puts the strict CSP and the other security headers on every answer, 404s included", () => {
    for (const path of ["/console", "/console/app.js", "/console/missing"]) {
      const headers = consoleResponse(event(path), assets).headers ?? {};
      expect(headers["Content-Security-Policy"], path).toBe(CONSOLE_CSP);
      expect(headers["X-Content-Type-Options"], path).toBe("nosniff");
      expect(headers["X-Frame-Options"], path).toBe("DENY");
    }
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("connect-src 'self'");
    expect(CONSOLE_CSP).not.toMatch(/unsafe|https?:|\*/);
  });

  it("answers 304 when If-None-Match names the current ETag, and no body to HEAD", () => {
    const first = consoleResponse(event("/console/app.js"), assets);
    const etag = String(first.headers?.ETag);

    const again = consoleResponse(event("/console/app.js", { headers: { "If-None-Match": etag } }), assets);
    const head = consoleResponse(event("/console/app.js", { httpMethod: "HEAD" }), assets);

    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(again).toMatchObject({ statusCode: 304, body: "" });
    expect(head).toMatchObject({ statusCode: 200, body: "" });
  });

  it("matches only /console, /console/ and one asset segment below it", () => {
    expect(matchConsoleRoute("/console")).toEqual({ template: "/console" });
    expect(matchConsoleRoute("/console/")).toEqual({ template: "/console" });
    expect(matchConsoleRoute("/console/app.js")).toEqual({ template: "/console/{asset}", asset: "app.js" });
    expect(matchConsoleRoute("/console/a/b")).toBeUndefined();
    expect(matchConsoleRoute("/consoles")).toBeUndefined();
    expect(matchConsoleRoute("/api/v1/health")).toBeUndefined();
    expect(consoleUrlOf("http://127.0.0.1:3000/api/v1")).toBe("http://127.0.0.1:3000/console");
  });
});
