/**
 * `dapr-state-cache/testing`: a Dapr-compatible state API server for tests and local development.
 *
 * @since 0.1.0
 */
export type { RecordedRequest, SidecarFlavour, StoreState, TestSidecar, TestSidecarOptions } from './sidecar.js'
export { startTestSidecar } from './sidecar.js'
export type { FaultHandle, FaultKind, FaultOptions, Route } from './faults.js'
export type { Daprd, Flavour, PrivateMongo, PrivatePostgres, PrivateRedis, StartDaprdOptions } from './daprd.js'
export { DAPR_VERSION, DaprdStartError, daprdCandidates, startDaprd } from './daprd.js'
