/**
 * The Lambda handlers the local stack runs, imported lazily: each handler builds its clients from process.env on
 * first use (shared/runtime.ts), so the stack must set the environment before the first import. Each module is
 * loaded once and reused, like a warm Lambda container.
 */
import type { APIGatewayRequestAuthorizerEventHeaders } from "aws-lambda";
import { type AuthorizerContext, authorize } from "../../shared/http/authorizer.js";
import type { ApiHandler } from "../../shared/http/middleware.js";
import type { ApiFunctionName } from "../../shared/http/routes.js";
import { getRuntime } from "../../shared/runtime.js";
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
  return {
    api: (name) => once(name, async () => (await API_MODULES[name]()).handler),
    // The authorizer Lambda's logic over the runtime's table (rebuilt from process.env when a stack starts).
    authorize: (headers) => authorize(headers, getRuntime().repos.apiKeys),
    syncWorker: () => once("sync-worker", async () => (await import("../../functions/sync-worker/handler.js")).handler),
    webhookDeliverer: () =>
      once("webhook-deliverer", async () => (await import("../../functions/webhook-deliverer/handler.js")).handler),
    planner: () => once("planner", async () => (await import("../../functions/planner/handler.js")).handler),
    console: () => once("console", async () => (await import("../../functions/console/handler.js")).handler),
  };
}
