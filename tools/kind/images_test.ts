import { deepStrictEqual, ok } from "node:assert";
import {
  AGENT_PERMISSIONS,
  AGENT_RUNTIME_FLAGS,
  CONTROLLER_PERMISSIONS,
  CONTROLLER_RUNTIME_FLAGS,
} from "../../deploy/permissions.ts";
import { OPERATOR_LAUNCHERS, OPERATOR_SOURCES } from "./images.ts";

/** The words of the `deno run` line of a launcher script. */
function runFlags(script: string): string[] {
  const command = script.split("\n").filter((line) => !line.startsWith("#")).join(" ").replaceAll("\\", " ");
  return command.split(/\s+/).filter((word) => word.startsWith("--allow-") || word.startsWith("--v8-flags"));
}

Deno.test("the kind operator image runs each program with exactly the flags of deploy/permissions.ts", () => {
  deepStrictEqual(runFlags(OPERATOR_LAUNCHERS["usr/local/bin/swh-controller"]), [
    ...CONTROLLER_PERMISSIONS,
    ...CONTROLLER_RUNTIME_FLAGS,
  ]);
  const agent = OPERATOR_LAUNCHERS["usr/local/bin/swh-agent"];
  deepStrictEqual(runFlags(agent), [...AGENT_PERMISSIONS, ...AGENT_RUNTIME_FLAGS]);
  ok(agent.includes("deno run --cached-only"), agent);
});

Deno.test("the kind operator image carries what deploy/Dockerfile copies", async () => {
  const dockerfile = await Deno.readTextFile(new URL("../../deploy/Dockerfile", import.meta.url));
  const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)]
    .flatMap((match) => match[1].split(/\s+/)).map((path) => path.replace(/\/$/, ""));
  deepStrictEqual([...copied].sort(), [...OPERATOR_SOURCES].sort());
});
