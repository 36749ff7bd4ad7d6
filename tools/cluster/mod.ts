/** Public surface of the local control-plane tooling, for tests and other tools. */
export {
  clusterDir,
  type ClusterState,
  ClusterStepError,
  down,
  isHealthy,
  readState,
  restartApiserver,
  startApiserver,
  stopApiserver,
  up,
} from "./cluster.ts";
export { type Binaries, ensureBinaries } from "./binaries.ts";
