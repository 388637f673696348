/** Loads the pages share: the chosen integration's partitions (for the data type and connection pickers). */
import { seg } from "./api";
import { useConsole } from "./context";
import type { PartitionStatus, SyncStatus } from "./types";
import { type Load, unique, useLoad } from "./ui";

/** Path of the chosen integration: `/integrations/{id}` + `rest`. */
export function useIntegrationPath(): (rest: string) => string {
  const { integration } = useConsole();
  return (rest) => `/integrations/${seg(integration ?? "")}${rest}`;
}

/** The integration's partitions, with the data types and connections they name. */
export function usePartitions(): {
  load: Load<PartitionStatus[]>;
  dataTypes: string[];
  connections: string[];
} {
  const { api, integration } = useConsole();
  const path = useIntegrationPath();
  const [load] = useLoad(
    async () =>
      (await api<SyncStatus>("GET", path("/reference-data/sync/status"), { query: { limit: 1 } })).data.dataTypes,
    [api, integration],
  );
  const partitions = load.state === "ok" ? load.value : [];
  return {
    load,
    dataTypes: unique(partitions.map((p) => p.dataType)),
    connections: unique(partitions.map((p) => p.connectionId)),
  };
}
