/** The sample Waygate gateway: see server.ts. Public API for tests, the local stack and benchmarks. */
export { ACTIONS, ActionError, type ActionHandler, type ActionResult } from "./actions.js";
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
  DEFAULT_SAMPLE_GATEWAY_TOKEN,
  type RecordedCall,
  type SampleGateway,
  type SampleGatewayOptions,
  type ScriptedFailure,
  startSampleGateway,
} from "./server.js";
export { SAMPLE_SOURCES, type SampleSource } from "./sources.js";
