/** Where the API is, seen from the console's own path (no DOM here, so the node tests can check it). */

/** `/console` → `/api/v1`, `/prod/console` → `/prod/api/v1`: the API sits beside the console under any stage. */
export function apiBaseOf(pathname: string): string {
  const root = pathname.replace(/console\/?$/, "");
  return `${root.endsWith("/") ? root : `${root}/`}api/v1`;
}
