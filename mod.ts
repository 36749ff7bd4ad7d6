/**
 * ServiceWithHealthchecks for Kubernetes: the command-line entry point.
 *
 * ```sh
 * deno run -A mod.ts convert service.yaml > swh.yaml      # migrate a Service (see README "Migration")
 * deno run -A mod.ts explain my-ns/postgres-write          # which pods are in or out, and why
 * ```
 *
 * @module
 */
import { ConvertError, convertManifests } from "./cli/convert.ts";

const USAGE = `usage: deno run -A mod.ts <verb> …
  convert [FILE|-] [--probe tcp|http] [--http-path PATH]
      print a ServiceWithHealthchecks for each Service in FILE (default stdin), with a probe per target
      port and the annotation that lets the controller adopt the running Service and keep its ClusterIP
  explain NAMESPACE/NAME [--watch]
      for one ServiceWithHealthchecks: each selected pod, its node and IP, in or out of the slices and why`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function readInput(path: string | undefined): Promise<string> {
  if (!path || path === "-") return await new Response(Deno.stdin.readable).text();
  return await Deno.readTextFile(path);
}

async function main(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  switch (verb) {
    case "convert": {
      const probe = flag(rest, "--probe") ?? "tcp";
      if (probe !== "tcp" && probe !== "http") throw new Error(`--probe must be tcp or http, not ${probe}`);
      const file = rest.find((a, i) => !a.startsWith("--") && !rest[i - 1]?.startsWith("--"));
      console.log(convertManifests(await readInput(file), { probe, httpPath: flag(rest, "--http-path") }));
      return 0;
    }
    case "explain": {
      const { explainCommand } = await import("./cli/explain.ts");
      return await explainCommand(rest);
    }
    default:
      console.error(USAGE);
      return verb === undefined || verb === "help" || verb === "--help" ? 0 : 2;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(
      error instanceof ConvertError || error instanceof Error ? `error: ${error.message}` : error,
    );
    Deno.exit(1);
  }
}
