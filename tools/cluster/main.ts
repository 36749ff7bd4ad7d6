/** `deno task cluster up|down|env|status|restart-apiserver|build [--name N]`: the local control plane CLI. */
import { clusterDir, ClusterStepError, down, isHealthy, readState, restartApiserver, up } from "./mod.ts";
import { ensureBinaries } from "./binaries.ts";

const USAGE = `usage: ./deno task cluster <command> [--name NAME]
  up                 build the binaries if needed, start etcd, kube-apiserver, kube-controller-manager
  down               stop everything the instance started and remove its files and interface
  env                print shell exports for the instance (eval "$(./deno task cluster env)")
  status             say whether the instance is up and healthy
  restart-apiserver  stop and start kube-apiserver (tests use this for watch resumption)
  build              only build and cache the binaries
instance name defaults to "default"; state lives in ${clusterDir("<name>")}`;

function parse(args: string[]): { command?: string; name: string } {
  let name = "default";
  let command: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--name") name = args[++i] ?? name;
    else if (args[i].startsWith("--name=")) name = args[i].slice("--name=".length);
    else command ??= args[i];
  }
  return { command, name };
}

async function main(args: string[]): Promise<number> {
  const { command, name } = parse(args);
  const dir = clusterDir(name);
  switch (command) {
    case "up": {
      const state = await up({ name });
      console.log(`export KUBECONFIG=${state.kubeconfig}`);
      return 0;
    }
    case "down":
      await down({ name });
      return 0;
    case "env": {
      const state = readState(dir);
      if (!state) {
        console.error(`cluster "${name}" is not up: run \`./deno task cluster up\``);
        return 1;
      }
      console.log(`export KUBECONFIG=${state.kubeconfig}`);
      console.log(`export SWH_TEST_KUBECONFIG=${state.kubeconfig}`);
      console.log(`export SWH_TEST_CLUSTER_DIR=${state.dir}`);
      console.log(`export SWH_TEST_KUBECTL=${state.binaries.kubectl}`);
      console.log(`export PATH=${state.binaries.kubectl.replace(/\/kubectl$/, "")}:$PATH`);
      return 0;
    }
    case "status": {
      const state = readState(dir);
      const healthy = state ? await isHealthy(state) : false;
      console.log(
        state ? `${name}: ${healthy ? "healthy" : "NOT healthy"} at ${state.apiserverUrl}` : `${name}: down`,
      );
      return healthy ? 0 : 1;
    }
    case "restart-apiserver":
      await restartApiserver(dir);
      return 0;
    case "build":
      console.log(JSON.stringify(await ensureBinaries(), null, 2));
      return 0;
    default:
      console.error(USAGE);
      return command ? 2 : 0;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(error instanceof ClusterStepError ? error.message : error);
    Deno.exit(1);
  }
}
