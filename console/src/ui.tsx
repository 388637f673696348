/**
 * Small building blocks shared by the pages. Every value from the API is rendered as text (Preact text nodes and
 * attributes), never as HTML.
 */
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";

export type Load<T> =
  | { state: "loading" }
  | { state: "ok"; value: T }
  | { state: "error"; error: ApiError | Error }
  | { state: "unavailable" };

/**
 * Runs `load` when `deps` change (and on `reload()`), keeping only the latest answer. `available === false` (the
 * server's OpenAPI document lacks the route) skips the call; a 404/405 for a missing route also reads "unavailable".
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  available?: boolean,
): [Load<T>, () => void, (value: T) => void] {
  const [result, setResult] = useState<Load<T>>({ state: "loading" });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const run = ++latest.current;
    if (available === false) {
      setResult({ state: "unavailable" });
      return;
    }
    setResult((previous) => (previous.state === "ok" ? previous : { state: "loading" }));
    load().then(
      (value) => run === latest.current && setResult({ state: "ok", value }),
      (error: unknown) => {
        if (run !== latest.current) return;
        if (error instanceof ApiError && error.notAvailable) setResult({ state: "unavailable" });
        else setResult({ state: "error", error: error instanceof Error ? error : new Error(String(error)) });
      },
    );
  }, [...deps, tick, available]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  const set = useCallback((value: T) => setResult({ state: "ok", value }), []);
  return [result, reload, set];
}

/** Renders a load's value, or its loading / error / not-available state. */
export function Loaded<T>(props: { load: Load<T>; what: string; children: (value: T) => ComponentChildren }) {
  const { load } = props;
  if (load.state === "loading") return <p class="muted">Loading {props.what}…</p>;
  if (load.state === "unavailable") return <NotAvailable what={props.what} />;
  if (load.state === "error") return <ErrorBox error={load.error} what={props.what} />;
  return <>{props.children(load.value)}</>;
}

export function NotAvailable(props: { what: string }) {
  return (
    <p class="notice" data-testid="not-available">
      {props.what}: not available on this server.
    </p>
  );
}

export function ErrorBox(props: { error: Error; what?: string }) {
  const { error } = props;
  const code = error instanceof ApiError ? error.code : undefined;
  const hint =
    error instanceof ApiError && error.status === 401
      ? " Check the API key (Change key, above)."
      : error instanceof ApiError && error.status === 403
        ? " This API key lacks the scope this needs."
        : "";
  return (
    <p class="error" role="alert">
      {props.what ? `Could not load ${props.what}: ` : ""}
      {code ? `${code}: ` : ""}
      {error.message}
      {hint}
    </p>
  );
}

/** A table that scrolls sideways inside itself on a narrow screen instead of widening the page. */
export function Table(props: { caption: string; head: string[]; children: ComponentChildren; empty?: string }) {
  const rows = Array.isArray(props.children) ? props.children.length : props.children ? 1 : 0;
  return (
    <div class="table-wrap">
      <table>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.head.map((h) => (
              <th scope="col" key={h}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows === 0 ? (
            <tr>
              <td colSpan={props.head.length} class="muted">
                {props.empty ?? "Nothing yet."}
              </td>
            </tr>
          ) : (
            props.children
          )}
        </tbody>
      </table>
    </div>
  );
}

export function Badge(props: { value: string | undefined | null; title?: string }) {
  const value = props.value ?? "—";
  return (
    <span class={`badge badge-${value.replace(/[^a-z_]/gi, "")}`} title={props.title}>
      {value}
    </span>
  );
}

/** Pretty JSON as text. */
export function Json(props: { value: unknown; compact?: boolean }) {
  const text = props.compact ? JSON.stringify(props.value) : JSON.stringify(props.value, null, 2);
  return props.compact ? <code class="json-inline">{text}</code> : <pre class="json">{text}</pre>;
}

/** An ISO time as the person's local time, with the ISO value on hover. */
export function Time(props: { value: string | null | undefined }) {
  if (!props.value) return <span class="muted">—</span>;
  const date = new Date(props.value);
  if (Number.isNaN(date.getTime())) return <span>{props.value}</span>;
  return (
    <time dateTime={props.value} title={props.value}>
      {date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" })}
    </time>
  );
}

/** A labelled control: the label names the input for screen readers and tests alike. */
export function Field(props: { label: string; id: string; children: ComponentChildren; hint?: string }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint ? <small class="muted">{props.hint}</small> : null}
    </div>
  );
}

/** A select of strings with an optional "any" first option (value ""). */
export function Select(props: {
  id: string;
  label: string;
  value: string;
  options: readonly string[];
  any?: string;
  onChange: (value: string) => void;
}) {
  return (
    <Field label={props.label} id={props.id}>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.any !== undefined ? <option value="">{props.any}</option> : null}
        {props.options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    </Field>
  );
}

export const unique = (values: readonly string[]): string[] => [...new Set(values)].sort();
