import { deepStrictEqual, ok } from "node:assert";
import { parseAllDocuments } from "yaml";
import {
  AGENT_PERMISSIONS,
  AGENT_RUNTIME_ENV,
  AGENT_RUNTIME_FLAGS,
  CONTROLLER_PERMISSIONS,
  CONTROLLER_RUNTIME_FLAGS,
  withReadablePaths,
} from "./permissions.ts";

/** The permission and V8 flags of the `deno compile` line that follows a `# permissions:<program>` marker. */
function dockerfileFlags(program: string): string[] {
  const lines = Deno.readTextFileSync(new URL("./Dockerfile", import.meta.url)).split("\n");
  const marker = lines.indexOf(`# permissions:${program}`);
  ok(marker >= 0, `Dockerfile has no "# permissions:${program}" marker`);
  return lines[marker + 1].split(/\s+/).filter((word) =>
    word.startsWith("--allow-") || word.startsWith("--deny-") || word.startsWith("--v8-flags")
  );
}

Deno.test("the Dockerfile compiles each program with exactly the flags the local backend runs it with", () => {
  deepStrictEqual(dockerfileFlags("controller"), [...CONTROLLER_PERMISSIONS, ...CONTROLLER_RUNTIME_FLAGS]);
  deepStrictEqual(dockerfileFlags("agent"), [...AGENT_PERMISSIONS, ...AGENT_RUNTIME_FLAGS]);
});

Deno.test("withReadablePaths only widens --allow-read", () => {
  deepStrictEqual(withReadablePaths(["--allow-net", "--allow-read=/a"], ["/b"]), [
    "--allow-net",
    "--allow-read=/a,/b",
  ]);
});

Deno.test("the agent's DaemonSet sets the agent's runtime environment (AGENT_RUNTIME_ENV)", () => {
  const text = Deno.readTextFileSync(new URL("./agent.yaml", import.meta.url));
  const daemonSet = parseAllDocuments(text).map((d) => d.toJS()).find((o) => o?.kind === "DaemonSet");
  ok(daemonSet, "deploy/agent.yaml has a DaemonSet");
  const env: { name: string; value?: string }[] = daemonSet.spec.template.spec.containers[0].env;
  for (const [name, value] of Object.entries(AGENT_RUNTIME_ENV)) {
    deepStrictEqual(env.find((e) => e.name === name)?.value, value, name);
  }
});
