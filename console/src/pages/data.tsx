/** Data: one data type's cached items (or object), with search, a status filter, a connection picker and paging. */
import { useEffect, useState } from "preact/hooks";
import { seg } from "../api";
import { useConsole } from "../context";
import { useIntegrationPath, usePartitions } from "../hooks";
import type { Item, ObjectData } from "../types";
import { Badge, Field, Json, Loaded, Select, Table, Time, useLoad } from "../ui";

const STATUSES = ["active", "inactive", "deleted", "all"] as const;
const PAGE_SIZES = ["10", "25", "50", "100", "500"] as const;

interface Filters {
  dataType: string;
  connectionId: string;
  status: string;
  search: string;
  limit: string;
}

type Page = { kind: "items"; items: Item[]; next: string | null } | { kind: "object"; object: ObjectData };

export function DataPage() {
  const { api, integration } = useConsole();
  const path = useIntegrationPath();
  const pickers = usePartitions();
  const [filters, setFilters] = useState<Filters>({
    dataType: "",
    connectionId: "",
    status: "active",
    search: "",
    limit: "50",
  });
  const [searchText, setSearchText] = useState("");
  // cursors[i] is the cursor of page i (page 0 has none).
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const pageIndex = cursors.length - 1;

  useEffect(() => {
    const first = pickers.dataTypes[0];
    // Functional: the person may have picked one between this render and this effect.
    if (first !== undefined) setFilters((f) => (f.dataType === "" ? { ...f, dataType: first } : f));
  }, [pickers.dataTypes, filters.dataType]);

  const update = (change: Partial<Filters>) => {
    setFilters((f) => ({ ...f, ...change }));
    setCursors([undefined]);
  };

  const [load] = useLoad<Page | undefined>(async () => {
    if (filters.dataType === "") return undefined;
    const result = await api<Item[] | ObjectData>("GET", path(`/reference-data/${seg(filters.dataType)}`), {
      query: {
        connectionId: filters.connectionId,
        status: filters.status,
        search: filters.search,
        limit: filters.limit,
        cursor: cursors[pageIndex],
      },
    });
    return Array.isArray(result.data)
      ? { kind: "items", items: result.data, next: result.pagination?.hasMore ? result.pagination.cursor : null }
      : { kind: "object", object: result.data };
  }, [api, integration, filters, pageIndex]);

  return (
    <>
      <form
        class="filters"
        aria-label="Data filters"
        onSubmit={(event) => {
          event.preventDefault();
          update({ search: searchText.trim() });
        }}
      >
        <Select
          id="data-type"
          label="Data type"
          value={filters.dataType}
          options={pickers.dataTypes}
          onChange={(dataType) => update({ dataType })}
        />
        <Select
          id="data-connection"
          label="Connection"
          value={filters.connectionId}
          options={pickers.connections}
          any="(all connections)"
          onChange={(connectionId) => update({ connectionId })}
        />
        <Select
          id="data-status"
          label="Status"
          value={filters.status}
          options={STATUSES}
          onChange={(status) => update({ status })}
        />
        <Select
          id="data-limit"
          label="Per page"
          value={filters.limit}
          options={PAGE_SIZES}
          onChange={(limit) => update({ limit })}
        />
        <Field label="Search" id="data-search">
          <input
            id="data-search"
            type="search"
            value={searchText}
            onInput={(e) => setSearchText(e.currentTarget.value)}
          />
        </Field>
        <button type="submit">Search</button>
      </form>
      <Loaded load={pickers.load} what="data types">
        {() => (pickers.dataTypes.length === 0 ? <p class="notice">This integration has no partitions yet.</p> : null)}
      </Loaded>
      <Loaded load={load} what="items">
        {(page) =>
          page === undefined ? null : page.kind === "object" ? (
            <section aria-label="Object">
              <p>
                Synced <Time value={page.object.syncedAt} />
              </p>
              <Json value={page.object.object} />
            </section>
          ) : (
            <>
              <Table
                caption={`${filters.dataType}: page ${pageIndex + 1}`}
                head={["Name", "ID", "Status", "Connection", "Updated", "Metadata"]}
                empty="No items match."
              >
                {page.items.map((item) => (
                  <tr key={`${item.connectionId}:${item.externalId}`}>
                    <th scope="row" class="item-name">
                      {item.name}
                    </th>
                    <td>
                      <code>{item.externalId}</code>
                    </td>
                    <td>
                      <Badge value={item.status} />
                    </td>
                    <td>{item.connectionId}</td>
                    <td>
                      <Time value={item.updatedAt} />
                    </td>
                    <td class="metadata">
                      <Json value={item.metadata} compact />
                    </td>
                  </tr>
                ))}
              </Table>
              <div class="pager">
                <button
                  type="button"
                  disabled={pageIndex === 0}
                  onClick={() => setCursors((list) => list.slice(0, -1))}
                >
                  Previous page
                </button>
                <button
                  type="button"
                  disabled={page.next === null}
                  onClick={() => setCursors((list) => [...list, page.next ?? undefined])}
                >
                  Next page
                </button>
              </div>
            </>
          )
        }
      </Loaded>
    </>
  );
}
