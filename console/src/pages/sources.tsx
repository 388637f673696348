/** Sources: each data type's configuration as JSON, and where it came from (discovered or manual). */
import { useConsole } from "../context";
import { useIntegrationPath } from "../hooks";
import type { Source } from "../types";
import { Badge, Json, Loaded, Time, useLoad } from "../ui";

export function SourcesPage() {
  const { api, integration } = useConsole();
  const path = useIntegrationPath();
  const [load] = useLoad(
    async () => (await api<Source[]>("GET", path("/reference-data/sources"))).data,
    [api, integration],
  );
  return (
    <Loaded load={load} what="sources">
      {(sources) =>
        sources.length === 0 ? (
          <p class="notice">This integration has no sources.</p>
        ) : (
          <ul class="cards">
            {sources.map((source) => (
              <li key={source.dataType} class="card" data-data-type={source.dataType}>
                <h3>{source.dataType}</h3>
                <dl class="facts">
                  <dt>Origin</dt>
                  <dd>
                    {/* Sources saved before discovery existed were all saved with PUT. */}
                    <Badge value={source.origin ?? "manual"} />
                  </dd>
                  <dt>Action</dt>
                  <dd>
                    <code>
                      {source.integrationSlug}/{source.actionSlug}
                    </code>
                  </dd>
                  <dt>Revision</dt>
                  <dd>{source.revision ?? "—"}</dd>
                  <dt>Updated</dt>
                  <dd>
                    <Time value={source.updatedAt} />
                  </dd>
                </dl>
                <details open>
                  <summary>Configuration (referenceData)</summary>
                  <Json value={source.referenceData} />
                </details>
                {source.extensions && Object.keys(source.extensions).length > 0 ? (
                  <details>
                    <summary>Extensions</summary>
                    <Json value={source.extensions} />
                  </details>
                ) : null}
              </li>
            ))}
          </ul>
        )
      }
    </Loaded>
  );
}
