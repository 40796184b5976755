/**
 * @module
 * Container deploys: build, strategies, releases, recovery, liveness.
 */
export { Deployer } from "./deployer.ts";
export type { ServiceDeployResult } from "./deployer.ts";
export { currentRelease, type ServiceStatus } from "./status.ts";
export type { DeployContext, Replica } from "./context.ts";
export {
  checkPublish,
  checkVolumes,
  containerConfig,
  describeLog,
  logLimits,
} from "./container_config.ts";
export { checkAdminDomain, checkPublishedPorts } from "./reserved.ts";
export { latestBases, readIgnoreList, ReleaseBuildError } from "./build.ts";
export { containerName, imageRef, LABEL } from "./labels.ts";
export { LivenessMonitor } from "./liveness.ts";
export { ContainerEvents } from "./event_watch.ts";
export {
  netProbe,
  type Prober,
  type ProbeTarget,
  waitReady,
} from "./readiness.ts";
export type { RecoveryOutcome } from "./recovery.ts";
export { noTraffic, type TrafficControl, type Upstream } from "./traffic.ts";
