/**
 * The Lambda handlers the local stack runs, imported lazily: each handler builds its clients from process.env on
 * first use (shared/runtime.ts), so the stack must set the environment before the first import. Each module is
 * loaded once and reused, like a warm Lambda container.
 */
import type { APIGatewayRequestAuthorizerEventHeaders } from "aws-lambda";
import type { ApiFunctionName } from "../../shared/http/routes.js";
import type { ApiHandler, AuthorizerContext } from "./http-server.js";
import type { PlannerHandler } from "./planner-timer.js";
import type { SqsHandler } from "./sqs-poller.js";

export interface LocalHandlers {
  api(name: ApiFunctionName): Promise<ApiHandler>;
  authorize(headers: APIGatewayRequestAuthorizerEventHeaders): Promise<AuthorizerContext | undefined>;
  syncWorker(): Promise<SqsHandler>;
  webhookDeliverer(): Promise<SqsHandler>;
  planner(): Promise<PlannerHandler>;
  /** The admin console's static files (GET /console). */
  console(): Promise<ApiHandler>;
  /** Makes handlers with their own module-level clients forget them (the stack calls it when it stops). */
  reset(): Promise<void>;
}

const API_MODULES: Record<ApiFunctionName, () => Promise<{ handler: ApiHandler }>> = {
  "api-query": () => import("../../functions/api-query/handler.js"),
  "api-sync": () => import("../../functions/api-sync/handler.js"),
  "api-config": () => import("../../functions/api-config/handler.js"),
};

/** Loaders for every handler; nothing is imported until first asked for. */
export function localHandlers(): LocalHandlers {
  const cache = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, load: () => Promise<T>): Promise<T> => {
    let loaded = cache.get(key) as Promise<T> | undefined;
    if (!loaded) {
      loaded = load();
      // A failed import is retried on the next request instead of being cached.
      loaded.catch(() => cache.delete(key));
      cache.set(key, loaded);
    }
    return loaded;
  };
  // The module outlives a stack (ES modules load once per process): a new stack makes it re-read process.env.
  const loadAuthorizer = async () => {
    const authorizer = await import("../../functions/authorizer/handler.js");
    authorizer.resetAuthorizer();
    return authorizer;
  };
  return {
    reset: async () => {
      if (cache.has("authorizer")) (await once("authorizer", loadAuthorizer)).resetAuthorizer();
    },
    api: (name) => once(name, async () => (await API_MODULES[name]()).handler),
    authorize: async (headers) => {
      const { authorize } = await once("authorizer", loadAuthorizer);
      return authorize(headers);
    },
    syncWorker: () => once("sync-worker", async () => (await import("../../functions/sync-worker/handler.js")).handler),
    webhookDeliverer: () =>
      once("webhook-deliverer", async () => (await import("../../functions/webhook-deliverer/handler.js")).handler),
    planner: () => once("planner", async () => (await import("../../functions/planner/handler.js")).handler),
    console: () => once("console", async () => (await import("../../functions/console/handler.js")).handler),
  };
}
