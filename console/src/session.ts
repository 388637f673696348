/**
 * What the console remembers, all in sessionStorage (gone when the tab closes): the API key the person typed, and the
 * integration IDs they opened. Nothing goes to localStorage or cookies.
 */

const KEY = "rds.console.apiKey";
const INTEGRATIONS = "rds.console.integrations";

function storage(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
}

export function loadKey(): string | undefined {
  return storage()?.getItem(KEY) ?? undefined;
}

export function saveKey(key: string): void {
  storage()?.setItem(KEY, key);
}

export function forgetKey(): void {
  storage()?.removeItem(KEY);
}

/** Integration IDs opened in this tab, most recent first. */
export function loadIntegrations(): string[] {
  try {
    const parsed: unknown = JSON.parse(storage()?.getItem(INTEGRATIONS) ?? "[]");
    return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === "string") : [];
  } catch {
    return [];
  }
}

export function rememberIntegration(id: string): string[] {
  const list = [id, ...loadIntegrations().filter((other) => other !== id)].slice(0, 20);
  storage()?.setItem(INTEGRATIONS, JSON.stringify(list));
  return list;
}
