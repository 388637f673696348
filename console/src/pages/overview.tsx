/** Overview: the gateway credentials, the last discovery and its problems, and partitions by status per integration. */
import { useState } from "preact/hooks";
import { ApiError, seg } from "../api";
import { T, useConsole } from "../context";
import { routeHref } from "../route";
import type { DiscoveryReport, GatewayCredentials, KnownIntegration, PartitionStatus, SyncStatus } from "../types";
import { Badge, ErrorBox, Loaded, Table, Time, useLoad } from "../ui";

const PARTITION_STATUSES = ["idle", "queued", "syncing", "failed", "paused"] as const;

export function OverviewPage() {
  return (
    <>
      <Credentials />
      <Discovery />
      <Partitions />
    </>
  );
}

function Credentials() {
  const { api, capabilities } = useConsole();
  const [load] = useLoad(
    async () => {
      try {
        return (await api<GatewayCredentials>("GET", T.credentials)).data;
      } catch (error) {
        // The route exists but this tenant has stored none.
        if (error instanceof ApiError && error.status === 404 && !error.notAvailable) return null;
        throw error;
      }
    },
    [api],
    capabilities.has("GET", T.credentials),
  );
  return (
    <section aria-labelledby="credentials-title">
      <h3 id="credentials-title">Gateway credentials</h3>
      <Loaded load={load} what="Gateway credentials">
        {(credentials) =>
          credentials === null ? (
            <p class="notice">
              No Waygate API key is stored for this tenant: nothing syncs until one is saved (PUT
              /api/v1/gateway/credentials).
            </p>
          ) : (
            <dl class="facts">
              <dt>Status</dt>
              <dd>
                <Badge value={credentials.status} />
              </dd>
              <dt>Key</dt>
              <dd>
                <code>{credentials.keyHint}</code>
              </dd>
              <dt>Verified</dt>
              <dd>
                <Time value={credentials.verifiedAt} />
              </dd>
            </dl>
          )
        }
      </Loaded>
    </section>
  );
}

function Discovery() {
  const { api, capabilities, integrations } = useConsole();
  const slugOf = (id: string | undefined) => integrations.find((known) => known.id === id)?.slug;
  const [load, reload] = useLoad(
    async () => (await api<DiscoveryReport>("GET", T.discovery)).data,
    [api],
    capabilities.has("GET", T.discovery),
  );
  const [runError, setRunError] = useState<Error | undefined>();
  const canRun = capabilities.has("POST", T.discovery) === true;
  return (
    <section aria-labelledby="discovery-title">
      <h3 id="discovery-title">Discovery</h3>
      <Loaded load={load} what="Discovery">
        {(report) => (
          <>
            <dl class="facts">
              <dt>Status</dt>
              <dd>
                <Badge value={report.status} />
              </dd>
              <dt>Last run</dt>
              <dd>
                <Time value={report.lastRunAt} />
              </dd>
              <dt>Next run</dt>
              <dd>
                <Time value={report.nextRunAt} />
              </dd>
              <dt>Integrations</dt>
              <dd>
                {Array.isArray(report.integrations) ? report.integrations.length : String(report.integrations ?? "—")}
              </dd>
              <dt>Sources</dt>
              <dd>{counts(report.sources)}</dd>
              <dt>Connections</dt>
              <dd>{counts(report.connections)}</dd>
            </dl>
            <Table
              caption="Discovery problems"
              head={["Integration", "Action", "Connection", "Code", "Field", "Message"]}
              empty="No problems."
            >
              {(report.problems ?? []).map((problem, index) => (
                <tr key={index}>
                  <td>
                    {slugOf(problem.integrationId) ?? ""} <code>{problem.integrationId ?? "—"}</code>
                  </td>
                  <td>{problem.actionSlug ?? "—"}</td>
                  <td>{problem.connectionId ?? "—"}</td>
                  <td>
                    <code>{problem.code}</code>
                  </td>
                  <td>{problem.field ?? "—"}</td>
                  <td>{problem.message}</td>
                </tr>
              ))}
            </Table>
            {canRun ? (
              <button
                type="button"
                onClick={() =>
                  api("POST", T.discovery).then(
                    () => {
                      setRunError(undefined);
                      reload();
                    },
                    (error: Error) => setRunError(error),
                  )
                }
              >
                Run discovery now
              </button>
            ) : null}
            {runError ? <ErrorBox error={runError} /> : null}
          </>
        )}
      </Loaded>
    </section>
  );
}

function counts(values: Record<string, number> | undefined): string {
  if (!values) return "—";
  return Object.entries(values)
    .map(([name, count]) => `${count} ${name}`)
    .join(", ");
}

function Partitions() {
  const { integrations } = useConsole();
  return (
    <section aria-labelledby="partitions-title">
      <h3 id="partitions-title">Partitions by status</h3>
      {integrations.length === 0 ? (
        <p class="notice">No integrations known yet: open one by its ID above.</p>
      ) : (
        <Table
          caption="Partitions per integration"
          head={["Integration", "Total", ...PARTITION_STATUSES, "stale", "never synced", "Needing attention"]}
        >
          {integrations.map((known) => (
            <IntegrationRow key={known.id} known={known} />
          ))}
        </Table>
      )}
    </section>
  );
}

function IntegrationRow(props: { known: KnownIntegration }) {
  const { api } = useConsole();
  const { known } = props;
  const [load] = useLoad(
    async () =>
      (
        await api<SyncStatus>("GET", `/integrations/${seg(known.id)}/reference-data/sync/status`, {
          query: { limit: 1 },
        })
      ).data.dataTypes,
    [api, known.id],
  );
  const label = known.slug && known.slug !== known.id ? `${known.slug} (${known.id})` : known.id;
  return (
    <tr data-integration={known.id}>
      <th scope="row">
        <a href={routeHref({ page: "jobs", integration: known.id })}>{label}</a>
      </th>
      {load.state === "ok" ? (
        <PartitionCells partitions={load.value} />
      ) : (
        <td colSpan={PARTITION_STATUSES.length + 4}>
          <Loaded load={load} what={`partitions of ${label}`}>
            {() => null}
          </Loaded>
        </td>
      )}
    </tr>
  );
}

function PartitionCells(props: { partitions: PartitionStatus[] }) {
  const { partitions } = props;
  const byStatus = (status: string) => partitions.filter((p) => p.status === status).length;
  const attention = partitions.filter((p) => p.status === "failed" || p.status === "paused" || p.lastError);
  return (
    <>
      <td>{partitions.length}</td>
      {PARTITION_STATUSES.map((status) => (
        <td key={status} data-status={status}>
          {byStatus(status)}
        </td>
      ))}
      <td data-status="stale">{partitions.filter((p) => p.freshness === "stale").length}</td>
      <td>{partitions.filter((p) => p.freshness === "never").length}</td>
      <td>
        {attention.map((p) => (
          <div key={`${p.connectionId}:${p.dataType}`} class="muted">
            {p.dataType} on {p.connectionId}: {p.status}
            {p.pauseReason ? ` (${p.pauseReason})` : ""}
            {p.lastError ? ` — ${p.lastError.code}: ${p.lastError.message}` : ""}
          </div>
        ))}
      </td>
    </>
  );
}
