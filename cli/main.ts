/**
 * The `kubectl swh` commands — `status`, `explain`, `convert`, `version` — with kubectl's conventions:
 * `-n/--namespace` (else the kubeconfig context's namespace), `--context`, `--kubeconfig`, `-o json|yaml|wide`,
 * `-h/--help` on stdout with exit 0, unknown flags and values refused (exit 1, like kubectl). mod.ts and the
 * `kubectl-swh` launcher run {@link runCli}.
 *
 * @module
 */
import { DEFAULT_OPERATOR_NAMESPACE } from "../crds/conventions.ts";
import type { KubeTransport } from "../kube/transport.ts";
import { VERSION } from "../ops/version.ts";
import { flagHelp, type FlagSpec, flagValue, parseArgs, type ParsedArgs, UsageError } from "./args.ts";
import { convertObjects } from "./convert.ts";
import { document, OUTPUT_FORMATS, type OutputFormat } from "./output.ts";

/** How a run talks to the world; tests replace parts. */
export interface CliIo {
  /** Writes to stdout (a newline is added). */
  readonly out: (text: string) => void;
  /** Writes to stderr (a newline is added). */
  readonly err: (text: string) => void;
  /** Reads all of stdin. */
  readonly stdin: () => Promise<string>;
  /** Reads a file. */
  readonly readFile: (path: string) => Promise<string>;
  /** Environment lookup (unpermitted variables read as unset). */
  readonly env: (name: string) => string | undefined;
  /** Opens a connection: explicit kubeconfig path and context, or the defaults kubectl would use. */
  readonly connect: (
    opts: { kubeconfig?: string; context?: string },
  ) => Promise<KubeTransport & { close(): void }>;
  /** The clock of relative ages. */
  readonly now: () => number;
  /** Stops `--watch` loops (tests; at a terminal Ctrl-C ends the process). */
  readonly signal?: AbortSignal;
}

/** What the command is called in help and errors: as a kubectl plugin, which is how it is installed. */
export const CLI_NAME = "kubectl swh";

const HELP: FlagSpec = { name: "help", short: "h", help: "help for this command" };
const CONNECTION: readonly FlagSpec[] = [
  {
    name: "namespace",
    short: "n",
    value: true,
    placeholder: "NS",
    help: "namespace (default: the context's)",
  },
  { name: "context", value: true, placeholder: "NAME", help: "kubeconfig context to use" },
  {
    name: "kubeconfig",
    value: true,
    placeholder: "FILE",
    help: "kubeconfig file (default: $KUBECONFIG, ~/.kube/config)",
  },
  {
    name: "operator-namespace",
    value: true,
    placeholder: "NS",
    help: `where the agents' node reports are (default: $SWH_NAMESPACE, else ${DEFAULT_OPERATOR_NAMESPACE})`,
  },
];
const OUTPUT: FlagSpec = {
  name: "output",
  short: "o",
  value: true,
  choices: OUTPUT_FORMATS,
  placeholder: "json|yaml|wide",
  help: "output format: a json or yaml document, or wide text",
};
const WATCH: FlagSpec = { name: "watch", short: "w", help: "redraw every 2 seconds until interrupted" };

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly description: string;
  readonly flags: readonly FlagSpec[];
  readonly run: (parsed: ParsedArgs, io: CliIo) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  status: {
    summary: "one ServiceWithHealthchecks at a glance: conditions, counts, Service, pods, reports, Events",
    usage: "status NAME [-n NS] [-o json|yaml|wide] [-w]",
    description:
      "Shows why a ServiceWithHealthchecks is or is not ready: its conditions with reasons and ages, " +
      "ready/total counts, the Service and its ClusterIP, what each probe checks, every selected pod (node, IP, " +
      "in or out of the EndpointSlices and why, 'failing 1/3' while a probe fails below its threshold), the " +
      "agents' node reports and the recent Events. NAME may also be given as NAMESPACE/NAME.",
    flags: [...CONNECTION, OUTPUT, WATCH, HELP],
    run: (parsed, io) => readingCommand(parsed, io, "status"),
  },
  explain: {
    summary: "which pods of a ServiceWithHealthchecks are in or out of its EndpointSlices, and why",
    usage: "explain NAME [-n NS] [-o json|yaml|wide] [-w]",
    description:
      "For each pod the selector matches: its node and IP, whether an EndpointSlice publishes it, " +
      "since when, and why (the failing probe and its reason). NAME may also be given as NAMESPACE/NAME.",
    flags: [...CONNECTION, OUTPUT, WATCH, HELP],
    run: (parsed, io) => readingCommand(parsed, io, "explain"),
  },
  convert: {
    summary: "turn Service manifests into ServiceWithHealthchecks manifests (migration)",
    usage: "convert [FILE|-] [--probe tcp|http] [--http-path PATH] [-o yaml|json]",
    description:
      "Reads Services (YAML or JSON; several documents or a kind: List, as `kubectl get services " +
      "-o yaml` prints them) from FILE or stdin and prints a ServiceWithHealthchecks for each: the same spec " +
      "(a pinned clusterIP included), a probe per target port, and the annotation that lets the controller " +
      "adopt the running Service and keep its ClusterIP.",
    flags: [
      { name: "filename", short: "f", value: true, placeholder: "FILE", help: "file to read ('-' = stdin)" },
      {
        name: "probe",
        value: true,
        choices: ["tcp", "http"],
        placeholder: "tcp|http",
        help: "probe of each target port: a TCP connect (default) or an HTTP GET",
      },
      {
        name: "http-path",
        value: true,
        placeholder: "PATH",
        help: "path of the HTTP probe (default /healthz)",
      },
      {
        ...OUTPUT,
        choices: ["yaml", "json"],
        placeholder: "yaml|json",
        help: "output format (default yaml)",
      },
      HELP,
    ],
    run: convertCommand,
  },
  version: {
    summary: "print the version",
    usage: "version",
    description: "Prints the version of this command (the release of the operator it belongs to).",
    flags: [HELP],
    run: (_parsed, io) => {
      io.out(`kubectl-swh ${VERSION}`);
      return Promise.resolve(0);
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return `${CLI_NAME}: ServiceWithHealthchecks from the command line (a kubectl plugin)

Usage:
  ${CLI_NAME} <command> [flags]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`).join("\n")}

Use "${CLI_NAME} <command> --help" for a command's flags.`;
}

/** `text` broken into lines of at most `width` characters at spaces. */
function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line].join("\n");
}

function commandHelp(command: Command): string {
  return `${wrap(command.description)}\n\nUsage:\n  ${CLI_NAME} ${command.usage}\n\nFlags:\n${
    flagHelp(command.flags)
  }`;
}

/** The namespace and name a reading command is about: `NAME` with -n (or the context's), or `NAMESPACE/NAME`. */
export function target(parsed: ParsedArgs, contextNamespace: string): { namespace: string; name: string } {
  if (parsed.positional.length !== 1) {
    throw new UsageError(
      parsed.positional.length === 0
        ? "a ServiceWithHealthchecks NAME is required"
        : `one NAME expected, got ${parsed.positional.length}: ${parsed.positional.join(" ")}`,
    );
  }
  const given = parsed.positional[0];
  const flagNamespace = flagValue(parsed, "namespace");
  if (!given.includes("/")) return { namespace: flagNamespace ?? contextNamespace, name: given };
  const [namespace, name, ...extra] = given.split("/");
  if (!namespace || !name || extra.length > 0) {
    throw new UsageError(`"${given}" is not NAME or NAMESPACE/NAME`);
  }
  if (flagNamespace !== undefined && flagNamespace !== namespace) {
    throw new UsageError(`"${given}" names namespace ${namespace}, but --namespace says ${flagNamespace}`);
  }
  return { namespace, name };
}

async function readingCommand(parsed: ParsedArgs, io: CliIo, which: "status" | "explain"): Promise<number> {
  // Usage first, so a mistyped command fails before any connection is tried.
  target(parsed, "default");
  const output = flagValue(parsed, "output") as OutputFormat;
  const watch = parsed.flags.has("watch");
  if (watch && (output === "json" || output === "yaml")) throw new UsageError("--watch prints text only");
  const operatorNamespace = flagValue(parsed, "operator-namespace") ?? io.env("SWH_NAMESPACE") ??
    DEFAULT_OPERATOR_NAMESPACE;
  const transport = await io.connect({
    kubeconfig: flagValue(parsed, "kubeconfig"),
    context: flagValue(parsed, "context"),
  });
  try {
    const { namespace, name } = target(parsed, transport.namespace);
    const { readSnapshot } = await import("./snapshot.ts");
    const { statusView, renderStatus } = await import("./status.ts");
    const { explain, renderExplanation } = await import("./explain.ts");
    const render = async () => {
      const snapshot = await readSnapshot(transport, namespace, name, {
        operatorNamespace,
        withServiceAndEvents: which === "status",
      });
      const data = which === "status"
        ? statusView(snapshot)
        : explain(snapshot.swh, snapshot.pods, snapshot.slices, snapshot.reports ?? []);
      if (output === "json" || output === "yaml") return document(data, output);
      const options = { now: io.now(), wide: output === "wide", operatorNamespace };
      return which === "status"
        ? renderStatus(data as ReturnType<typeof statusView>, options)
        : renderExplanation(data as ReturnType<typeof explain>, options);
    };
    if (!watch) {
      io.out(await render());
      return 0;
    }
    // A person watches this screen: a redraw every two seconds is what they can read, for a few reads each.
    while (!io.signal?.aborted) {
      const text = await render().catch((e) => `error: ${e instanceof Error ? e.message : e}`);
      io.out(`\x1b[2J\x1b[HEvery 2s: ${CLI_NAME} ${which} ${namespace}/${name}\n\n${text}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        io.signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
    return 0;
  } finally {
    transport.close();
  }
}

async function convertCommand(parsed: ParsedArgs, io: CliIo): Promise<number> {
  const files = [
    ...parsed.positional,
    ...(parsed.flags.has("filename") ? [flagValue(parsed, "filename")!] : []),
  ];
  if (files.length > 1) throw new UsageError(`one FILE expected, got ${files.length}: ${files.join(" ")}`);
  const probe = (flagValue(parsed, "probe") ?? "tcp") as "tcp" | "http";
  const httpPath = flagValue(parsed, "http-path");
  if (httpPath !== undefined && probe !== "http") throw new UsageError("--http-path needs --probe http");
  const file = files[0];
  const text = file === undefined || file === "-" ? await io.stdin() : await io.readFile(file);
  const swhs = convertObjects(text, { probe, ...(httpPath ? { httpPath } : {}) });
  const format = (flagValue(parsed, "output") ?? "yaml") as "yaml" | "json";
  if (format === "json") {
    io.out(document(swhs.length === 1 ? swhs[0] : { apiVersion: "v1", kind: "List", items: swhs }, "json"));
  } else {
    io.out(swhs.map((swh) => document(swh, "yaml")).join("\n---\n"));
  }
  return 0;
}

/** An error as kubectl words it: the apiserver's reason and message, or ours. */
function errorText(error: unknown): string {
  if (error instanceof Error && error.name === "KubeApiError") {
    const status = (error as Error & { status: { reason?: string; message?: string; code?: number } }).status;
    return `Error from server (${status.reason ?? status.code}): ${status.message ?? error.message}`;
  }
  return `error: ${error instanceof Error ? error.message : String(error)}`;
}

/** Runs one command line; returns the exit code (0 ok, 1 error, like kubectl). */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "-h" || name === "--help" || (name === "help" && rest.length === 0)) {
    io.out(usage());
    return 0;
  }
  const commandName = name === "help" ? rest[0] : name;
  const command = COMMANDS[commandName];
  if (!command) {
    io.err(`error: unknown command "${commandName}" for "${CLI_NAME}"\nRun '${CLI_NAME} --help' for usage.`);
    return 1;
  }
  try {
    if (name === "help") {
      io.out(commandHelp(command));
      return 0;
    }
    const parsed = parseArgs(rest, command.flags);
    if (parsed.flags.has("help")) {
      io.out(commandHelp(command));
      return 0;
    }
    return await command.run(parsed, io);
  } catch (error) {
    io.err(errorText(error));
    if (error instanceof UsageError) io.err(`See '${CLI_NAME} ${commandName} --help' for usage.`);
    return 1;
  }
}

/** The real world: Deno's stdio, files, environment and the kube client. */
export function denoIo(signal?: AbortSignal): CliIo {
  return {
    out: (text) => console.log(text),
    err: (text) => console.error(text),
    stdin: () => new Response(Deno.stdin.readable).text(),
    readFile: (path) => Deno.readTextFile(path),
    env: (name) =>
      Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
        ? Deno.env.get(name)
        : undefined,
    connect: async ({ kubeconfig, context }) => {
      const { connect } = await import("../kube/mod.ts");
      return await connect({
        ...(kubeconfig ? { paths: [kubeconfig] } : {}),
        ...(context ? { context } : {}),
        userAgent: `kubectl-swh/${VERSION}`,
      });
    },
    now: () => Date.now(),
    signal,
  };
}
