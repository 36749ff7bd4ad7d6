/**
 * What the machine needs for the lab (`./deno task test|demo|e2e|bench`), checked before anything starts and
 * failing loudly with the install command. README "Prerequisites" lists exactly these.
 *
 * @module
 */

/** One requirement and how to meet it. */
export interface Prerequisite {
  /** What it is, for the message. */
  readonly what: string;
  /** An absolute path, or a command name looked up on PATH. */
  readonly path: string;
  /** How to get it. */
  readonly install: string;
  /** Only the test runner needs it (the demo and benchmarks do not). */
  readonly testsOnly?: boolean;
}

/** What a run is for: the lab alone (demo, benchmarks), or the tests, which need a few tools more. */
export type Purpose = "lab" | "tests";

/** The oldest Go that builds the pinned Kubernetes and etcd (tools/kubebin/*\/go.mod say `go 1.26.0`). */
export const MIN_GO: readonly [number, number] = [1, 26];

/** Directory of the PostgreSQL 15 server binaries: `SWH_PG_BIN`, else Debian's. */
export function pgBinDir(env: (name: string) => string | undefined): string {
  return env("SWH_PG_BIN") || "/usr/lib/postgresql/15/bin";
}

/** Everything a run for `purpose` needs, PostgreSQL from `pgBin`. */
export function prerequisites(pgBin: string, purpose: Purpose = "tests"): Prerequisite[] {
  const apt = (pkg: string) => `apt-get install -y ${pkg}`;
  const prometheus = "apt-get install -y --no-install-recommends prometheus";
  const all: Prerequisite[] = [
    { what: "openssl", path: "openssl", install: apt("openssl") },
    { what: "iproute2 (ip)", path: "ip", install: apt("iproute2") },
    { what: "iptables (kube-proxy in the lab's nodes)", path: "iptables", install: apt("iptables") },
    { what: "nftables (kube-proxy's nftables mode)", path: "nft", install: apt("nftables") },
    { what: "go", path: "go", install: `install Go ≥ ${MIN_GO.join(".")} (https://go.dev/doc/install)` },
    { what: "Node.js npm (the ./deno shim installs Deno from npm)", path: "npm", install: apt("npm") },
    { what: "runuser (util-linux)", path: "runuser", install: apt("util-linux") },
    {
      what: `PostgreSQL 15 server (${pgBin}, or set SWH_PG_BIN)`,
      path: `${pgBin}/postgres`,
      install: apt("postgresql-15"),
    },
    {
      what: "python3 (a probe test's never-answering listener)",
      path: "python3",
      install: apt("python3"),
      testsOnly: true,
    },
    { what: "promtool (the alerting rules' tests)", path: "promtool", install: prometheus, testsOnly: true },
    { what: "prometheus (the scrape test)", path: "prometheus", install: prometheus, testsOnly: true },
    {
      what: "curl (the demo's hints, typed by its test)",
      path: "curl",
      install: apt("curl"),
      testsOnly: true,
    },
  ];
  return all.filter((p) => purpose === "tests" || !p.testsOnly);
}

/** Whether `path` exists (absolute) or is a command on `PATH`. */
export function found(path: string, pathVar = Deno.env.get("PATH") ?? ""): boolean {
  if (path.includes("/")) {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  }
  return pathVar.split(":").some((dir) => dir !== "" && found(`${dir}/${path}`));
}

/**
 * Parses `go env GOVERSION` output (`go1.26.8`, `go1.27rc1`) and says whether it is at least {@link MIN_GO};
 * undefined when the text is not a Go version.
 */
export function goVersionOk(text: string): boolean | undefined {
  const match = /^go(\d+)\.(\d+)/.exec(text.trim());
  if (!match) return undefined;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > MIN_GO[0] || (major === MIN_GO[0] && minor >= MIN_GO[1]);
}

/** The Go problem, if any: asks `go env GOVERSION`, which honours `GOTOOLCHAIN` as the build will. */
function goProblem(): string | undefined {
  let text = "";
  try {
    const out = new Deno.Command("go", { args: ["env", "GOVERSION"], stdin: "null" }).outputSync();
    text = new TextDecoder().decode(out.success ? out.stdout : out.stderr).trim();
  } catch (error) {
    text = error instanceof Error ? error.message : String(error);
  }
  if (goVersionOk(text)) return undefined;
  const wanted = MIN_GO.join(".");
  return `Go ≥ ${wanted} is needed to build the Kubernetes binaries, found: ${text || "nothing"}. ` +
    `Install it, or let Go ≥ 1.21 fetch it through the module proxy: GOTOOLCHAIN=go${wanted}.0 ./deno task …`;
}

/** Throws an error listing every missing prerequisite and how to install it, or saying root is needed. */
export function requirePrerequisites(purpose: Purpose): void {
  const problems = prerequisites(pgBinDir((name) => Deno.env.get(name)), purpose)
    .filter((p) => !found(p.path))
    .map((p) => `${p.what}: ${p.install}`);
  if (found("go")) {
    const go = goProblem();
    if (go) problems.push(go);
  }
  if (problems.length > 0) {
    throw new Error(
      "missing prerequisites (`.ci/run` installs them all):\n" + problems.map((p) => `  - ${p}`).join("\n"),
    );
  }
  if (Deno.uid() !== 0) {
    throw new Error("the local cluster creates network interfaces and must run as root");
  }
}
