/**
 * Changes: the change feed, newest first. The feed itself runs oldest first with a cursor, so the page follows it to
 * its end (bounded) and shows the latest changes it saw, newest first.
 */
import { useState } from "preact/hooks";
import { T, useConsole } from "../context";
import { useIntegrationPath, usePartitions } from "../hooks";
import type { Change } from "../types";
import { Badge, Field, Json, Loaded, Select, Table, Time, useLoad } from "../ui";

const PAGE_LIMIT = 200;
const MAX_PAGES = 25;
const KEEP = 500;

export function ChangesPage() {
  const { api, integration, capabilities } = useConsole();
  const path = useIntegrationPath();
  const pickers = usePartitions();
  const [dataType, setDataType] = useState("");
  const [connectionId, setConnectionId] = useState("");
  const [sinceText, setSinceText] = useState("");
  const [since, setSince] = useState("");
  const [load] = useLoad(
    async () => {
      let kept: Change[] = [];
      let cursor: string | undefined;
      let pages = 0;
      let more = true;
      while (more && pages < MAX_PAGES) {
        const result = await api<{ changes: Change[] } | Change[]>("GET", path("/reference-data/changes"), {
          query: {
            dataType,
            connectionId,
            limit: PAGE_LIMIT,
            ...(cursor ? { since: cursor } : since ? { since } : {}),
          },
        });
        const changes = Array.isArray(result.data) ? result.data : result.data.changes;
        kept = [...kept, ...changes].slice(-KEEP);
        pages += 1;
        const next = result.pagination?.cursor ?? null;
        more = result.pagination?.hasMore === true && next !== null && next !== cursor;
        cursor = next ?? undefined;
      }
      return { changes: kept.reverse(), complete: !more };
    },
    [api, integration, dataType, connectionId, since],
    capabilities.has("GET", T.changes),
  );
  return (
    <>
      <form
        class="filters"
        aria-label="Change filters"
        onSubmit={(event) => {
          event.preventDefault();
          setSince(sinceText.trim());
        }}
      >
        <Select
          id="changes-type"
          label="Data type"
          value={dataType}
          options={pickers.dataTypes}
          any="(all)"
          onChange={setDataType}
        />
        <Select
          id="changes-connection"
          label="Connection"
          value={connectionId}
          options={pickers.connections}
          any="(all connections)"
          onChange={setConnectionId}
        />
        <Field label="Since (ISO time or cursor)" id="changes-since">
          <input id="changes-since" value={sinceText} onInput={(e) => setSinceText(e.currentTarget.value)} />
        </Field>
        <button type="submit">Show</button>
      </form>
      <Loaded load={load} what="The change feed">
        {({ changes, complete }) => (
          <>
            {complete ? null : (
              <p class="notice">More changes than the console follows at once: narrow it with “Since”.</p>
            )}
            <Table
              caption="Changes, newest first"
              head={["When", "Change", "Name", "ID", "Status", "Data type", "Connection", "Job", "Metadata"]}
              empty="No changes."
            >
              {changes.map((change, index) => (
                <tr key={index}>
                  <td>
                    <Time value={change.changedAt} />
                  </td>
                  <td>
                    <Badge value={change.change} />
                  </td>
                  <th scope="row">{change.name}</th>
                  <td>
                    <code>{change.externalId}</code>
                  </td>
                  <td>{change.status}</td>
                  <td>{change.dataType ?? "—"}</td>
                  <td>{change.connectionId ?? "—"}</td>
                  <td>
                    <code>{change.jobId ?? "—"}</code>
                  </td>
                  <td class="metadata">
                    <Json value={change.metadata ?? {}} compact />
                  </td>
                </tr>
              ))}
            </Table>
          </>
        )}
      </Loaded>
    </>
  );
}
