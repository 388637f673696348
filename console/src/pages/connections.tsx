/** Connections: each one's status (with its partitions' pause reasons), pause/resume, and a TTL override. */
import { useState } from "preact/hooks";
import { seg } from "../api";
import { T, useConsole } from "../context";
import { useIntegrationPath } from "../hooks";
import type { Connection, PartitionStatus } from "../types";
import { Badge, ErrorBox, Loaded, NotAvailable, Table, Time, useLoad } from "../ui";

/**
 * What a connection is, as a person reads it: revoked, paused (by the API's own flag, or because every partition of it
 * is paused — with the reasons), or active.
 */
export function connectionState(connection: Connection, partitions: PartitionStatus[]): { state: string; why: string } {
  if (connection.status === "revoked") return { state: "revoked", why: "" };
  const own = partitions.filter((p) => p.connectionId === connection.connectionId);
  const reasons = [...new Set(own.map((p) => p.pauseReason).filter((r): r is string => r !== undefined))];
  if (connection.gatewayStatus && connection.gatewayStatus !== "active") {
    reasons.push(`Waygate says ${connection.gatewayStatus}`);
  }
  const allPaused = own.length > 0 && own.every((p) => p.status === "paused");
  if (connection.paused === true || allPaused) return { state: "paused", why: reasons.join(", ") };
  return { state: connection.status, why: reasons.length > 0 ? `some partitions paused: ${reasons.join(", ")}` : "" };
}

export function ConnectionsPage() {
  const { api, integration, capabilities } = useConsole();
  const path = useIntegrationPath();
  const [load, reload] = useLoad(async () => {
    const [connections, status] = await Promise.all([
      api<Connection[]>("GET", path("/connections")),
      api<{ dataTypes: PartitionStatus[] }>("GET", path("/reference-data/sync/status"), { query: { limit: 1 } }),
    ]);
    return { connections: connections.data, partitions: status.data.dataTypes };
  }, [api, integration]);
  const canPatch = capabilities.has("PATCH", T.connection);
  return (
    <>
      {canPatch === false ? <NotAvailable what="Pause, resume and TTL override" /> : null}
      <Loaded load={load} what="connections">
        {({ connections, partitions }) => (
          <Table
            caption="Connections"
            head={["Connection", "Status", "Partitions", "Enrolled", "TTL override", "Actions"]}
            empty="No connections are enrolled."
          >
            {connections.map((connection) => (
              <ConnectionRow
                key={connection.connectionId}
                connection={connection}
                partitions={partitions}
                canPatch={canPatch !== false}
                onChange={reload}
              />
            ))}
          </Table>
        )}
      </Loaded>
    </>
  );
}

function ConnectionRow(props: {
  connection: Connection;
  partitions: PartitionStatus[];
  canPatch: boolean;
  onChange: () => void;
}) {
  const { api } = useConsole();
  const path = useIntegrationPath();
  const { connection } = props;
  const { state, why } = connectionState(connection, props.partitions);
  const own = props.partitions.filter((p) => p.connectionId === connection.connectionId);
  const [ttl, setTtl] = useState(connection.ttlSeconds == null ? "" : String(connection.ttlSeconds));
  const [error, setError] = useState<Error | undefined>();
  const [busy, setBusy] = useState(false);
  const id = connection.connectionId;
  const patch = (body: { paused?: boolean; ttlSeconds?: number | null }) => {
    setBusy(true);
    api("PATCH", path(`/connections/${seg(id)}`), { body }).then(
      () => {
        setError(undefined);
        setBusy(false);
        props.onChange();
      },
      (failure: Error) => {
        setError(failure);
        setBusy(false);
      },
    );
  };
  const ttlId = `ttl-${id}`;
  return (
    <tr data-connection={id}>
      <th scope="row">
        <code>{id}</code>
        {connection.isPrimary ? <span class="muted"> (primary)</span> : null}
        {connection.origin ? <div class="muted">{connection.origin}</div> : null}
      </th>
      <td>
        <Badge value={state} />
        {why ? <div class="muted">{why}</div> : null}
      </td>
      <td>
        {own.length} ({own.filter((p) => p.status === "paused").length} paused)
      </td>
      <td>
        <Time value={connection.enrolledAt} />
      </td>
      <td>
        {props.canPatch && state !== "revoked" ? (
          <form
            class="inline"
            onSubmit={(event) => {
              event.preventDefault();
              patch({ ttlSeconds: ttl.trim() === "" ? null : Number(ttl) });
            }}
          >
            <label for={ttlId} class="visually-hidden">
              TTL override of {id} (seconds)
            </label>
            <input
              id={ttlId}
              type="number"
              min={60}
              step={1}
              placeholder="source default"
              value={ttl}
              onInput={(e) => setTtl(e.currentTarget.value)}
            />
            <button type="submit" disabled={busy}>
              Save TTL
            </button>
          </form>
        ) : (
          <span>{connection.ttlSeconds == null ? "—" : `${connection.ttlSeconds} s`}</span>
        )}
      </td>
      <td>
        {props.canPatch && state !== "revoked" ? (
          <button
            type="button"
            disabled={busy}
            aria-label={`${state === "paused" ? "Resume" : "Pause"} connection ${id}`}
            onClick={() => patch({ paused: state !== "paused" })}
          >
            {state === "paused" ? "Resume" : "Pause"}
          </button>
        ) : null}
        {error ? <ErrorBox error={error} /> : null}
      </td>
    </tr>
  );
}
