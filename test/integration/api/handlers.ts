/**
 * The API handlers by function name, for tests that walk the whole route table. A handler file that does not exist
 * is left out, and the tests that use this assert which functions they covered.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ApiFunctionName } from "../../../shared/http/routes.js";
import type { Handler } from "./fixture.js";

/** Imports functions/<name>/handler.ts of every API function that exists. */
export async function loadApiHandlers(): Promise<Partial<Record<ApiFunctionName, Handler>>> {
  const handlers: Partial<Record<ApiFunctionName, Handler>> = {};
  for (const name of ["api-sync", "api-config", "api-query"] as const) {
    const url = new URL(`../../../functions/${name}/handler.ts`, import.meta.url);
    if (!existsSync(fileURLToPath(url))) continue;
    const module = (await import(url.href)) as { handler: Handler };
    handlers[name] = module.handler;
  }
  return handlers;
}

/** A concrete path for a route template. */
export function concretePath(template: string, params: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? "x"));
}
