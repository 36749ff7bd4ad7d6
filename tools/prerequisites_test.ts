import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { found, goVersionOk, pgBinDir, prerequisites } from "./prerequisites.ts";

Deno.test("Go versions: 1.26 and later pass, older fail, anything else is not a version", () => {
  for (const v of ["go1.26.0", "go1.26.8", "go1.27rc1", "go2.0"]) strictEqual(goVersionOk(v), true, v);
  for (const v of ["go1.25.7", "go1.9"]) strictEqual(goVersionOk(v), false, v);
  strictEqual(goVersionOk("go: command not found"), undefined);
});

Deno.test("PostgreSQL comes from SWH_PG_BIN when set", () => {
  strictEqual(pgBinDir(() => undefined), "/usr/lib/postgresql/15/bin");
  strictEqual(pgBinDir((n) => n === "SWH_PG_BIN" ? "/opt/pg/bin" : undefined), "/opt/pg/bin");
  deepStrictEqual(
    prerequisites("/opt/pg/bin").find((p) => p.what.startsWith("PostgreSQL"))?.path,
    "/opt/pg/bin/postgres",
  );
});

Deno.test("README's prerequisites name every checked tool", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const section = readme.slice(
    readme.indexOf("## Prerequisites"),
    readme.indexOf("\n## ", readme.indexOf("## Prerequisites") + 5),
  );
  for (const p of prerequisites("/usr/lib/postgresql/15/bin")) {
    const name = p.path.split("/").pop()!;
    strictEqual(
      section.includes(
        ({ postgres: "PostgreSQL 15", go: "Go ≥" } as Record<string, string>)[name] ?? `\`${name}\``,
      ),
      true,
      `README names ${name}`,
    );
  }
  for (const text of ["root", "Go ≥ 1.26", "GOTOOLCHAIN", "SWH_PG_BIN"]) {
    strictEqual(section.includes(text), true, `README says ${text}`);
  }
});

Deno.test("the demo and benchmarks need the lab's tools, the tests a few more", () => {
  const lab = prerequisites("/pg", "lab").map((p) => p.path);
  const tests = prerequisites("/pg", "tests").map((p) => p.path);
  deepStrictEqual(tests.filter((p) => !lab.includes(p)), ["python3", "promtool", "prometheus", "curl"]);
});

Deno.test("commands are found on PATH, absolute paths by existence", () => {
  strictEqual(found("sh", "/nonexistent:/bin:/usr/bin"), true);
  strictEqual(found("no-such-command-swh", "/bin:/usr/bin"), false);
  strictEqual(found("/bin/sh"), true);
});
