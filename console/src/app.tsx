/**
 * The console's shell: the API key form, the page navigation, the integration picker, and the page. It paints at once
 * and loads every piece of data afterwards, page by page.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Capabilities, createApi } from "./api";
import { Ctx, T } from "./context";
import { ChangesPage } from "./pages/changes";
import { ConnectionsPage } from "./pages/connections";
import { DataPage } from "./pages/data";
import { JobsPage } from "./pages/jobs";
import { LookupPage } from "./pages/lookup";
import { OverviewPage } from "./pages/overview";
import { SourcesPage } from "./pages/sources";
import { PAGES, type PageId, parseRoute, type Route, routeHref } from "./route";
import { forgetKey, loadIntegrations, loadKey, rememberIntegration, saveKey } from "./session";
import { type DiscoveryReport, integrationList, integrationsOf, type KnownIntegration } from "./types";

const PAGE_COMPONENTS: Record<PageId, () => preact.JSX.Element> = {
  overview: OverviewPage,
  sources: SourcesPage,
  connections: ConnectionsPage,
  data: DataPage,
  lookup: LookupPage,
  jobs: JobsPage,
  changes: ChangesPage,
};

export function App() {
  const [key, setKey] = useState<string | undefined>(loadKey);
  const [route, setRoute] = useState<Route>(() => parseRoute());
  // The server's routes, read once before any page asks for data, so a page never calls a route the server lacks.
  const [capabilities, setCapabilities] = useState<Capabilities | undefined>();
  const [discovered, setDiscovered] = useState<KnownIntegration[]>([]);
  const [opened, setOpened] = useState<string[]>(loadIntegrations);

  useEffect(() => {
    const onHash = () => setRoute(parseRoute());
    window.addEventListener("hashchange", onHash);
    Capabilities.load().then(setCapabilities);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    if (route.integration && !opened.includes(route.integration)) setOpened(rememberIntegration(route.integration));
  }, [route.integration, opened]);

  const api = useMemo(() => (key ? createApi(key) : undefined), [key]);

  // The tenant's integrations: the server's listing where it has one, else those the discovery report names.
  useEffect(() => {
    if (!api || !capabilities) return;
    if (capabilities.has("GET", T.integrations) === true) {
      api<unknown>("GET", T.integrations).then(
        (result) => setDiscovered(integrationList(result.data)),
        () => setDiscovered([]),
      );
    } else if (capabilities.has("GET", T.discovery) !== false) {
      api<DiscoveryReport>("GET", T.discovery).then(
        (result) => setDiscovered(integrationsOf(result.data)),
        () => setDiscovered([]),
      );
    }
  }, [api, capabilities]);

  const integrations = useMemo(() => {
    const all = new Map(discovered.map((known) => [known.id, known]));
    for (const id of opened) if (!all.has(id)) all.set(id, { id });
    return [...all.values()];
  }, [discovered, opened]);

  const Page = PAGE_COMPONENTS[route.page];
  const title = PAGES.find((p) => p.id === route.page)?.title ?? "";
  useEffect(() => {
    document.title = `${title} · Reference Data Sync console`;
  }, [title]);

  return (
    <>
      <button class="skip" type="button" onClick={skipToMain}>
        Skip to content
      </button>
      <header class="top">
        <h1>Reference Data Sync</h1>
        {key ? (
          <div class="key-state">
            <span class="muted">API key set for this tab</span>
            <button
              type="button"
              onClick={() => {
                forgetKey();
                setKey(undefined);
              }}
            >
              Change key
            </button>
          </div>
        ) : null}
      </header>
      {key && api ? (
        <>
          <nav aria-label="Pages" class="pages">
            <ul>
              {PAGES.map((page) => (
                <li key={page.id}>
                  <a
                    href={routeHref({ ...route, page: page.id })}
                    aria-current={page.id === route.page ? "page" : undefined}
                  >
                    {page.title}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <IntegrationPicker route={route} integrations={integrations} />
          <main class="page" id="main" tabIndex={-1}>
            <h2>{title}</h2>
            <Ctx.Provider
              value={{
                api,
                capabilities: capabilities ?? new Capabilities(undefined),
                integration: route.integration,
                integrations,
              }}
            >
              {!capabilities ? (
                <p class="muted">Loading…</p>
              ) : route.page !== "overview" && !route.integration ? (
                <p class="notice">Choose an integration above to see its {title.toLowerCase()}.</p>
              ) : (
                <Page key={`${route.page}:${route.integration ?? ""}`} />
              )}
            </Ctx.Provider>
          </main>
        </>
      ) : (
        <main class="page" id="main" tabIndex={-1}>
          <KeyForm
            onKey={(value) => {
              saveKey(value);
              setKey(value);
            }}
          />
        </main>
      )}
    </>
  );
}

function skipToMain() {
  document.getElementById("main")?.focus();
}

function KeyForm(props: { onKey: (key: string) => void }) {
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <form
      class="key-form"
      onSubmit={(event) => {
        event.preventDefault();
        const value = input.current?.value.trim() ?? "";
        if (value !== "") props.onKey(value);
      }}
    >
      <h2>Sign in with an API key</h2>
      <p>
        The console calls this service's public API with the key you type. The key stays in this browser tab (session
        storage) and is sent only in the <code>Authorization</code> header. Reads need the <code>read</code> scope;
        triggering syncs <code>sync</code>; sources and connections <code>admin</code>.
      </p>
      <div class="field">
        <label for="api-key">API key</label>
        <input id="api-key" ref={input} type="password" autoComplete="off" spellcheck={false} required />
      </div>
      <button type="submit">Use this key</button>
    </form>
  );
}

function IntegrationPicker(props: { route: Route; integrations: KnownIntegration[] }) {
  const [value, setValue] = useState(props.route.integration ?? "");
  useEffect(() => setValue(props.route.integration ?? ""), [props.route.integration]);
  return (
    <form
      class="integration-bar"
      onSubmit={(event) => {
        event.preventDefault();
        const id = value.trim();
        location.hash = routeHref({ ...props.route, integration: id === "" ? undefined : id });
      }}
    >
      <div class="field">
        <label for="integration">Integration</label>
        <input
          id="integration"
          list="integration-options"
          value={value}
          placeholder="an integration ID"
          autoComplete="off"
          spellcheck={false}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <datalist id="integration-options">
          {props.integrations.map((known) => (
            <option key={known.id} value={known.id} label={known.slug ?? known.id} />
          ))}
        </datalist>
      </div>
      <button type="submit">Open</button>
    </form>
  );
}
