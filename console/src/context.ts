/** What every page gets from the shell: the API client, the server's routes, and the chosen integration. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Api, Capabilities } from "./api";
import type { KnownIntegration } from "./types";

export interface ConsoleContext {
  api: Api;
  capabilities: Capabilities;
  /** The integration the pages show (undefined until one is chosen). */
  integration: string | undefined;
  integrations: KnownIntegration[];
}

export const Ctx = createContext<ConsoleContext | undefined>(undefined);

export function useConsole(): ConsoleContext {
  const value = useContext(Ctx);
  if (!value) throw new Error("useConsole outside the console shell");
  return value;
}

/** Route templates below /api/v1, as the OpenAPI document names them. */
export const T = {
  credentials: "/gateway/credentials",
  discovery: "/discovery",
  integrations: "/integrations",
  status: "/integrations/{integrationId}/reference-data/sync/status",
  trigger: "/integrations/{integrationId}/reference-data/sync",
  sources: "/integrations/{integrationId}/reference-data/sources",
  connections: "/integrations/{integrationId}/connections",
  connection: "/integrations/{integrationId}/connections/{connectionId}",
  byType: "/integrations/{integrationId}/reference-data/{dataType}",
  lookup: "/integrations/{integrationId}/reference-data/{dataType}/lookup",
  changes: "/integrations/{integrationId}/reference-data/changes",
} as const;
