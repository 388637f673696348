import { describe, expect, it } from "vitest";
import { handler as apiConfig } from "../../../functions/api-config/handler.js";
import { handler as apiQuery } from "../../../functions/api-query/handler.js";
import { handler as apiSync } from "../../../functions/api-sync/handler.js";
import type { ApiHandler } from "../../../shared/http/middleware.js";
import { type ApiFunctionName, ROUTES } from "../../../shared/http/routes.js";
import { apiEvent, lambdaContext, parseResponse } from "../../support/api-events.js";

const handlers: Record<ApiFunctionName, ApiHandler> = {
  "api-query": apiQuery,
  "api-sync": apiSync,
  "api-config": apiConfig,
};

/** A concrete path for a route template. */
const concrete = (template: string) => template.replace(/\{(\w+)\}/g, (_, name: string) => `sample-${name}`);

describe("the API Lambdas", () => {
  it.each(ROUTES.filter((route) => route.auth !== "public"))(
    "$function serves $operationId ($method $path)",
    async (route) => {
      // Without a caller, a served route answers 401; a route its Lambda does not serve would answer 404.
      const response = parseResponse(
        await handlers[route.function](
          apiEvent({ method: route.method, path: concrete(route.path), caller: null }),
          lambdaContext(),
        ),
      );
      expect(response.status).toBe(401);
    },
  );
});
