/** Jobs: sync history with counts, warnings and errors (newest first), and a form to trigger a sync. */
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api";
import { useConsole } from "../context";
import { useIntegrationPath, usePartitions } from "../hooks";
import type { Job, SyncStatus, TriggeredJob } from "../types";
import { Badge, ErrorBox, Json, Loaded, Select, Table, Time, useLoad } from "../ui";

const JOB_STATUSES = ["pending", "syncing", "completed", "failed"] as const;
const MODES = ["full", "incremental"] as const;
/** While a listed job is still pending or syncing, the list refreshes itself this often, this many times at most. */
const POLL_MS = 1500;
const MAX_POLLS = 80;

export function JobsPage() {
  const { api, integration } = useConsole();
  const path = useIntegrationPath();
  const pickers = usePartitions();
  const [dataType, setDataType] = useState("");
  const [connectionId, setConnectionId] = useState("");
  const [status, setStatus] = useState("");
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const pageIndex = cursors.length - 1;
  const [load, reload] = useLoad(async () => {
    const result = await api<SyncStatus>("GET", path("/reference-data/sync/status"), {
      query: { dataType, connectionId, status, limit: 20, cursor: cursors[pageIndex] },
    });
    return { jobs: result.data.recentJobs, next: result.pagination?.hasMore ? result.pagination.cursor : null };
  }, [api, integration, dataType, connectionId, status, pageIndex]);
  const [polls, setPolls] = useState(0);
  const running = load.state === "ok" && load.value.jobs.some((j) => j.status === "pending" || j.status === "syncing");
  useEffect(() => {
    if (!running || polls >= MAX_POLLS) return;
    const timer = setTimeout(() => {
      setPolls((n) => n + 1);
      reload();
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [running, polls, reload]);

  const filter = (set: (value: string) => void) => (value: string) => {
    set(value);
    setCursors([undefined]);
  };

  return (
    <>
      <TriggerForm
        dataTypes={pickers.dataTypes}
        connections={pickers.connections}
        onTriggered={() => {
          setPolls(0);
          setCursors([undefined]);
          reload();
        }}
      />
      <form class="filters" aria-label="Job filters" onSubmit={(e) => e.preventDefault()}>
        <Select
          id="jobs-type"
          label="Data type"
          value={dataType}
          options={pickers.dataTypes}
          any="(all)"
          onChange={filter(setDataType)}
        />
        <Select
          id="jobs-connection"
          label="Connection"
          value={connectionId}
          options={pickers.connections}
          any="(all)"
          onChange={filter(setConnectionId)}
        />
        <Select
          id="jobs-status"
          label="Job status"
          value={status}
          options={JOB_STATUSES}
          any="(all)"
          onChange={filter(setStatus)}
        />
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </form>
      <Loaded load={load} what="jobs">
        {({ jobs, next }) => (
          <>
            <JobTable jobs={jobs} />
            <div class="pager">
              <button type="button" disabled={pageIndex === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
                Newer jobs
              </button>
              <button
                type="button"
                disabled={next === null}
                onClick={() => setCursors((c) => [...c, next ?? undefined])}
              >
                Older jobs
              </button>
            </div>
          </>
        )}
      </Loaded>
    </>
  );
}

function JobTable(props: { jobs: Job[] }) {
  return (
    <Table
      caption="Sync jobs, newest first"
      head={[
        "Job",
        "Data type",
        "Connection",
        "Status",
        "Trigger",
        "Mode",
        "Created",
        "Completed",
        "Found",
        "Created",
        "Updated",
        "Deleted",
        "Failed",
        "Warnings and errors",
      ]}
      empty="No jobs yet."
    >
      {props.jobs.map((job) => (
        <tr key={job.jobId} data-job={job.jobId}>
          <th scope="row">
            <code>{job.jobId}</code>
          </th>
          <td>{job.dataType}</td>
          <td>{job.connectionId}</td>
          <td>
            <Badge value={job.status} />
          </td>
          <td>{job.trigger}</td>
          <td>{job.mode}</td>
          <td>
            <Time value={job.createdAt ?? job.startedAt} />
          </td>
          <td>
            <Time value={job.completedAt} />
          </td>
          <td>{job.itemsFound}</td>
          <td>{job.itemsCreated}</td>
          <td>{job.itemsUpdated}</td>
          <td>{job.itemsDeleted}</td>
          <td>{job.itemsFailed}</td>
          <td>
            {job.error ? (
              <div class="error-text">
                <code>{job.error.code}</code>: {job.error.message}
              </div>
            ) : null}
            {(job.warnings ?? []).map((warning, index) => (
              <div key={index} class="warning-text">
                {typeof warning === "string" ? warning : <Json value={warning} compact />}
              </div>
            ))}
          </td>
        </tr>
      ))}
    </Table>
  );
}

function TriggerForm(props: { dataTypes: string[]; connections: string[]; onTriggered: () => void }) {
  const { api } = useConsole();
  const path = useIntegrationPath();
  const [dataType, setDataType] = useState("");
  const [connectionId, setConnectionId] = useState("");
  const [mode, setMode] = useState<string>("full");
  const [force, setForce] = useState(false);
  const [result, setResult] = useState<TriggeredJob[] | undefined>();
  const [error, setError] = useState<Error | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    try {
      const body = {
        mode,
        ...(dataType ? { dataType } : {}),
        ...(connectionId ? { connectionId } : {}),
        ...(force ? { force: true } : {}),
      };
      const answer = await api<{ jobs: TriggeredJob[] }>("POST", path("/reference-data/sync"), { body });
      setResult(answer.data.jobs);
      setError(undefined);
      props.onTriggered();
    } catch (failure) {
      setResult(undefined);
      setError(failure as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="trigger-title" class="trigger">
      <h3 id="trigger-title">Trigger a sync</h3>
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
      >
        <Select
          id="trigger-type"
          label="Sync data type"
          value={dataType}
          options={props.dataTypes}
          any="(all)"
          onChange={setDataType}
        />
        <Select
          id="trigger-connection"
          label="Sync connection"
          value={connectionId}
          options={props.connections}
          any="(all)"
          onChange={setConnectionId}
        />
        <Select id="trigger-mode" label="Mode" value={mode} options={MODES} onChange={setMode} />
        <div class="field checkbox">
          <input
            id="trigger-force"
            type="checkbox"
            checked={force}
            onChange={(e) => setForce(e.currentTarget.checked)}
          />
          <label for="trigger-force">Force (apply a held-back drop)</label>
        </div>
        <button type="submit" disabled={busy}>
          Trigger sync
        </button>
      </form>
      {error ? (
        <ErrorBox
          error={
            error instanceof ApiError && error.retryAfterSeconds
              ? new ApiError(
                  error.status,
                  error.code,
                  `${error.message} (retry in ${error.retryAfterSeconds} s)`,
                  false,
                )
              : error
          }
        />
      ) : null}
      {result ? (
        <Table caption="Triggered" head={["Data type", "Connection", "Status", "Job"]} empty="No partition matched.">
          {result.map((job) => (
            <tr key={`${job.connectionId}:${job.dataType}`}>
              <td>{job.dataType}</td>
              <td>{job.connectionId}</td>
              <td>
                <Badge value={job.status} />
                {job.deduplicated ? " (already in flight)" : ""}
                {job.retryAfterSeconds ? ` (retry in ${job.retryAfterSeconds} s)` : ""}
                {job.pauseReason ? ` (paused: ${job.pauseReason})` : ""}
              </td>
              <td>
                <code>{job.jobId ?? "—"}</code>
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
    </section>
  );
}
