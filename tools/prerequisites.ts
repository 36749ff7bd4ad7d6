/** Checks that the machine has what the tests need, failing loudly with the install command. */

interface Prerequisite {
  what: string;
  path: string;
  install: string;
}

const PREREQUISITES: Prerequisite[] = [
  { what: "openssl", path: "/usr/bin/openssl", install: "apt-get install -y openssl" },
  { what: "iproute2 (ip)", path: "/usr/sbin/ip", install: "apt-get install -y iproute2" },
  { what: "go", path: "go", install: "install Go 1.26 (https://go.dev/doc/install)" },
  {
    what: "python3 (a probe test's never-answering listener)",
    path: "python3",
    install: "apt-get install -y python3",
  },
  { what: "runuser (util-linux)", path: "/usr/sbin/runuser", install: "apt-get install -y util-linux" },
  {
    what: "PostgreSQL 15 server",
    path: "/usr/lib/postgresql/15/bin/postgres",
    install: "apt-get install -y postgresql",
  },
];

function found(path: string): boolean {
  if (path.includes("/")) {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  }
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => found(`${dir}/${path}`));
}

/** Throws an error listing every missing prerequisite and how to install it. */
export function requirePrerequisites(): void {
  const missing = PREREQUISITES.filter((p) => !found(p.path));
  if (missing.length > 0) {
    throw new Error(
      "missing prerequisites (`.ci/run` installs them all):\n" +
        missing.map((p) => `  - ${p.what}: ${p.install}`).join("\n"),
    );
  }
  if (Deno.uid() !== 0) {
    throw new Error("the local cluster creates network interfaces and must run as root");
  }
}
