import { deepStrictEqual, ok } from "node:assert";
import {
  AGENT_PERMISSIONS,
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
