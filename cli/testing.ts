/**
 * Test doubles of the CLI: an in-memory apiserver answering the reads of `status` and `explain`, and a
 * {@link CliIo} that records what a run prints.
 *
 * @module
 */
import { KubeApiError } from "../kube/errors.ts";
import type { KubeTransport, RequestOptions } from "../kube/transport.ts";
import type { CliIo } from "./main.ts";

/** Response bodies by API path: `/api/v1/namespaces/ns/pods` → a list, `…/pods/x` → an object. */
export type FakeApi = Record<string, unknown>;

/** A transport that answers GETs from a {@link FakeApi} and records every request. */
export interface FakeTransport extends KubeTransport {
  /** Every request, in order. */
  readonly requests: RequestOptions[];
  /** Whether the command closed it. */
  readonly closed: boolean;
  close(): void;
}

/** Answers GETs from `api`; any other request, or an unknown path, is the apiserver's 404. */
export function fakeTransport(api: FakeApi, namespace = "default"): FakeTransport {
  const requests: RequestOptions[] = [];
  let closed = false;
  const request = (opts: RequestOptions): Promise<unknown> => {
    requests.push(opts);
    if (opts.method === "GET" && opts.path in api) return Promise.resolve(structuredClone(api[opts.path]));
    const name = opts.path.split("/").pop();
    return Promise.reject(
      new KubeApiError(opts.method, opts.path, {
        code: 404,
        reason: "NotFound",
        message: `servicewithhealthchecks.network.deckhouse.io "${name}" not found`,
      }),
    );
  };
  return {
    namespace,
    requests,
    get closed() {
      return closed;
    },
    close() {
      closed = true;
    },
    request: request as KubeTransport["request"],
  };
}

/** A {@link CliIo} whose output is kept in `stdout` / `stderr` (one entry per write). */
export interface CapturedIo extends CliIo {
  readonly stdout: string[];
  readonly stderr: string[];
  /** The options `connect` was called with, in order. */
  readonly connects: { kubeconfig?: string; context?: string }[];
}

/** A fixed clock, stdin text, files and cluster; the output is captured. */
export function captureIo(opts: {
  stdin?: string;
  files?: Record<string, string>;
  transport?: FakeTransport;
  now?: number;
  signal?: AbortSignal;
} = {}): CapturedIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const connects: { kubeconfig?: string; context?: string }[] = [];
  const files = opts.files ?? {};
  return {
    stdout,
    stderr,
    connects,
    out: (text) => stdout.push(text),
    err: (text) => stderr.push(text),
    stdin: () => Promise.resolve(opts.stdin ?? ""),
    readFile: (path) =>
      path in files ? Promise.resolve(files[path]) : Promise.reject(
        new Deno.errors.NotFound(`No such file or directory (os error 2): readfile '${path}'`),
      ),
    env: () => undefined,
    connect: (options) => {
      connects.push(options);
      if (!opts.transport) return Promise.reject(new Error("no cluster in this test"));
      return Promise.resolve(opts.transport);
    },
    now: () => opts.now ?? Date.parse("2026-11-26T09:30:00Z"),
    signal: opts.signal,
  };
}
