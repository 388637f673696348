/** Lookup: a name → the matches with their score, match type and matched field; ambiguity said plainly. */
import { useEffect, useState } from "preact/hooks";
import { seg } from "../api";
import { useConsole } from "../context";
import { useIntegrationPath, usePartitions } from "../hooks";
import type { LookupResult } from "../types";
import { ErrorBox, Field, Json, Select, Table, Time } from "../ui";

export function LookupPage() {
  const { api } = useConsole();
  const path = useIntegrationPath();
  const pickers = usePartitions();
  const [dataType, setDataType] = useState("");
  const [connectionId, setConnectionId] = useState("");
  const [query, setQuery] = useState("");
  const [includeInactive, setIncludeInactive] = useState(false);
  const [result, setResult] = useState<{ query: string; value: LookupResult } | undefined>();
  const [error, setError] = useState<Error | undefined>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const first = pickers.dataTypes[0];
    if (first !== undefined) setDataType((current) => (current === "" ? first : current));
  }, [pickers.dataTypes, dataType]);

  const run = async () => {
    const asked = query.trim();
    if (asked === "" || dataType === "") return;
    setBusy(true);
    try {
      const answer = await api<LookupResult>("GET", path(`/reference-data/${seg(dataType)}/lookup`), {
        query: { query: asked, connectionId, includeInactive: includeInactive ? "true" : undefined, limit: 10 },
      });
      setResult({ query: asked, value: answer.data });
      setError(undefined);
    } catch (failure) {
      setError(failure as Error);
      setResult(undefined);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <form
        class="filters"
        aria-label="Lookup"
        onSubmit={(event) => {
          event.preventDefault();
          void run();
        }}
      >
        <Select
          id="lookup-type"
          label="Data type"
          value={dataType}
          options={pickers.dataTypes}
          onChange={setDataType}
        />
        <Select
          id="lookup-connection"
          label="Connection"
          value={connectionId}
          options={pickers.connections}
          any="(primary or default)"
          onChange={setConnectionId}
        />
        <Field label="Name to look up" id="lookup-query">
          <input
            id="lookup-query"
            type="search"
            required
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
          />
        </Field>
        <div class="field checkbox">
          <input
            id="lookup-inactive"
            type="checkbox"
            checked={includeInactive}
            onChange={(e) => setIncludeInactive(e.currentTarget.checked)}
          />
          <label for="lookup-inactive">Include inactive and deleted</label>
        </div>
        <button type="submit" disabled={busy}>
          Look up
        </button>
      </form>
      {error ? <ErrorBox error={error} what="the lookup" /> : null}
      {result ? <LookupAnswer query={result.query} result={result.value} /> : null}
    </>
  );
}

function LookupAnswer(props: { query: string; result: LookupResult }) {
  const { result } = props;
  const best = result.matches[0];
  return (
    <section aria-label="Lookup result" class="lookup-result">
      {result.matches.length === 0 ? (
        <p class="notice" role="status">
          No match for “{props.query}”.
        </p>
      ) : result.ambiguous ? (
        <p class="warning" role="status" data-testid="ambiguity">
          Ambiguous: {result.matches.length} candidates match “{props.query}” about equally well. Do not act on a guess;
          ask which one is meant.
        </p>
      ) : (
        <p class="ok" role="status" data-testid="ambiguity">
          Not ambiguous: the best match for “{props.query}” is {best?.name} ({best?.id}).
        </p>
      )}
      <p class="muted">
        Data last synced <Time value={result.lastSyncedAt} />
        {result.stale ? " — stale" : ""}
      </p>
      {result.matches.length > 0 ? (
        <Table caption="Matches" head={["Name", "ID", "Score", "Match type", "Matched field", "Metadata"]}>
          {result.matches.map((match) => (
            <tr key={match.id}>
              <th scope="row">{match.name}</th>
              <td>
                <code>{match.id}</code>
              </td>
              <td>{match.score.toFixed(3)}</td>
              <td>{match.matchType}</td>
              <td>
                <code>{match.matchedField}</code>
              </td>
              <td class="metadata">
                <Json value={match.metadata ?? {}} compact />
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
    </section>
  );
}
