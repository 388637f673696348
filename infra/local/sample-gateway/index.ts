/** The sample Waygate gateway: see server.ts. Public API for tests, the local stack and benchmarks. */
export { ACTIONS, ActionError, type ActionHandler, type ActionResult } from "./actions.js";
export {
  type CatalogAction,
  type CatalogConnection,
  type CatalogIntegration,
  defaultCatalog,
  type SampleCatalog,
  sampleUuid,
} from "./catalog.js";
export {
  crmSchema,
  defaultDatasets,
  type GithubRepo,
  type GraphUser,
  type SampleDatasets,
  type SlackChannel,
  type SlackUser,
  syntheticSlackUsers,
} from "./datasets.js";
export { FAULT_KINDS, FaultInjector, type FaultKind, type FaultOptions, faultsFromEnv } from "./faults.js";
export { hash32, mulberry32 } from "./prng.js";
export {
  type RecordedCall,
  type RecordedListing,
  SAMPLE_DEMO_GATEWAY_KEY,
  type SampleGateway,
  type SampleGatewayOptions,
  type SampleTenant,
  type ScriptedFailure,
  sampleGatewayKey,
  startSampleGateway,
} from "./server.js";
export { SAMPLE_SOURCES, type SampleSource } from "./sources.js";
