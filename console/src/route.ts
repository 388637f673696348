/** The console's location lives in the hash (`#/jobs?integration=…`): no server routes, and back/forward work. */

export const PAGES = [
  { id: "overview", title: "Overview" },
  { id: "sources", title: "Sources" },
  { id: "connections", title: "Connections" },
  { id: "data", title: "Data" },
  { id: "lookup", title: "Lookup" },
  { id: "jobs", title: "Jobs" },
  { id: "changes", title: "Changes" },
] as const;

export type PageId = (typeof PAGES)[number]["id"];

export interface Route {
  page: PageId;
  integration: string | undefined;
}

export function parseRoute(hash: string = location.hash): Route {
  const [path = "", search = ""] = hash.replace(/^#\/?/, "").split("?");
  const page = PAGES.find((p) => p.id === path)?.id ?? "overview";
  const integration = new URLSearchParams(search).get("integration") ?? undefined;
  return { page, integration: integration === "" ? undefined : integration };
}

export function routeHref(route: Route): string {
  const query = route.integration ? `?${new URLSearchParams({ integration: route.integration })}` : "";
  return `#/${route.page}${query}`;
}
