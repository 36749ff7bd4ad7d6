/**
 * Writes one node's reports (crds/report.ts): per SWH, the pods on this node that fail a probe or have started
 * failing one, with reasons. A report exists only while it has entries.
 *
 * Writes happen when the entries change in substance (pod, addresses, ready, terminating, which probes fail
 * and why — not the message text nor the failure count), the first change after a quiet period at once and
 * further ones at most once per probe period per report. The slice write of the same change happens first
 * (reconcile order), so the controller never counts a pod ready that the slices do not publish.
 *
 * RBAC: create/patch/delete node reports in the operator namespace.
 *
 * @module
 */
import { NODE_LABEL, nodeLabelValue, reportName } from "../crds/conventions.ts";
import { REPORT_KIND } from "../crds/names.ts";
import type { SwhNodeReport, SwhReference } from "../crds/report.ts";
import { ReportResource } from "../crds/resource.ts";
import { SWH_API_VERSION } from "../crds/names.ts";
import type { SwhEndpointStatus } from "../crds/schema.ts";
import { Api, isApiError } from "../kube/mod.ts";
import type { InformerEvent, KubeTransport } from "../kube/mod.ts";
import type { Logger } from "../ops/log.ts";

/** What triggers a write: everything but message texts and failure counts. */
export function reportContent(entries: readonly SwhEndpointStatus[]): string {
  return JSON.stringify(
    [...entries].sort((a, b) => a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0).map((e) => [
      e.pod,
      e.addresses ?? [],
      e.ready,
      e.terminating ?? false,
      (e.failingProbes ?? []).map((f) => [f.index, f.mode, f.reason]),
    ]),
  );
}

interface KnownReport {
  /** `namespace/name` of the SWH it is about. */
  readonly swh: string;
  readonly entries: readonly SwhEndpointStatus[];
  readonly content: string;
}

/** One node's report writer (see the module docs). */
export class ReportWriter {
  readonly #api: Api<SwhNodeReport>;
  readonly #node: string;
  readonly #namespace: string;
  readonly #fieldManager: string;
  readonly #log: Logger;
  readonly #now: () => number;
  /** By report name. */
  readonly #known = new Map<string, KnownReport>();
  readonly #writtenAt = new Map<string, number>();

  /** A writer for `node`'s reports in `namespace` (the operator namespace), applying as `fieldManager`. */
  constructor(opts: {
    transport: KubeTransport;
    node: string;
    namespace: string;
    fieldManager: string;
    log: Logger;
    now?: () => number;
  }) {
    this.#api = Api.namespaced(opts.transport, ReportResource, opts.namespace);
    this.#node = opts.node;
    this.#namespace = opts.namespace;
    this.#fieldManager = opts.fieldManager;
    this.#log = opts.log;
    this.#now = opts.now ?? (() => performance.now());
  }

  /**
   * Records our reports as listed or watched (the baseline after a restart). Returns the key (`namespace/name`)
   * of the SWH to reconcile when someone else deleted or changed one, so it is written again.
   */
  observe(event: InformerEvent<SwhNodeReport>): string | undefined {
    const report = event.object;
    const name = report.metadata?.name ?? "";
    const swh = `${report.swh?.namespace}/${report.swh?.name}`;
    const before = this.#known.get(name);
    if (event.type === "delete") {
      if (!before) return undefined; // our own delete
      this.#known.delete(name);
      return swh;
    }
    const entries = report.endpoints ?? [];
    const content = reportContent(entries);
    this.#known.set(name, { swh, entries, content });
    return before?.content === content ? undefined : swh;
  }

  /** Whether we hold a report about SWH `namespace/name`. */
  holds(namespace: string, name: string): boolean {
    return this.#known.has(reportName(namespace, name, this.#node));
  }

  /** Keys (`namespace/name`) of the SWHs we hold reports about. */
  swhKeys(): Set<string> {
    return new Set([...this.#known.values()].map((r) => r.swh));
  }

  /** The entries this node last reported for SWH `namespace/name` (to keep their transition times). */
  previous(namespace: string, name: string): readonly SwhEndpointStatus[] {
    return this.#known.get(reportName(namespace, name, this.#node))?.entries ?? [];
  }

  /**
   * Makes the report about `swh` hold `entries` (none: no report). Returns milliseconds after which to call
   * again when the write was held back by the once-per-period limit, else undefined.
   */
  async sync(
    swh: SwhReference & { generation?: number },
    entries: readonly SwhEndpointStatus[],
    periodMs: number,
  ): Promise<number | undefined> {
    const name = reportName(swh.namespace, swh.name, this.#node);
    const cur = this.#known.get(name);
    const content = reportContent(entries);
    if ((cur?.content ?? reportContent([])) === content) return undefined;
    const next = (this.#writtenAt.get(name) ?? -Infinity) + periodMs;
    const now = this.#now();
    if (next > now) return next - now;
    this.#writtenAt.set(name, now);
    if (entries.length === 0) {
      try {
        await this.#api.delete(name);
      } catch (err) {
        if (!isApiError(err, 404)) throw err;
      }
      this.#known.delete(name);
      this.#log.debug("report deleted", { object: `${this.#namespace}/${name}` });
      return undefined;
    }
    const body: SwhNodeReport = {
      apiVersion: SWH_API_VERSION,
      kind: REPORT_KIND,
      metadata: { name, namespace: this.#namespace, labels: { [NODE_LABEL]: nodeLabelValue(this.#node) } },
      swh: { namespace: swh.namespace, name: swh.name, uid: swh.uid },
      node: this.#node,
      ...(swh.generation !== undefined ? { observedGeneration: swh.generation } : {}),
      endpoints: [...entries],
    };
    await this.#api.apply(body, { fieldManager: this.#fieldManager, force: true });
    this.#known.set(name, { swh: `${swh.namespace}/${swh.name}`, entries, content });
    this.#log.debug("report applied", { object: `${this.#namespace}/${name}`, endpoints: entries.length });
    return undefined;
  }

  /** Deletes the report about SWH `namespace/name`, if any (the SWH is gone). */
  async remove(namespace: string, name: string): Promise<void> {
    const report = reportName(namespace, name, this.#node);
    if (!this.#known.has(report)) return;
    try {
      await this.#api.delete(report);
    } catch (err) {
      if (!isApiError(err, 404)) throw err;
    }
    this.#known.delete(report);
    this.#writtenAt.delete(report);
  }
}
