/**
 * `kubectl swh status NAME`: one ServiceWithHealthchecks at a glance, the way `kubectl cnpg status` shows a
 * cluster — what its Ready condition says and since when, the counts, the Service and its ClusterIP, what each
 * probe checks, every selected pod (node, IP, in or out of the slices and why, "failing 1/3" while a probe fails
 * below its threshold), the agents' node reports and the recent Events. A pure view of a snapshot (snapshot.ts).
 *
 * @module
 */
import { HEALTHCHECK_DEFAULTS } from "../crds/healthcheck.ts";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import { ago, humanDuration } from "../ops/time.ts";
import { explain, type ExplainRow, explanationTable } from "./explain.ts";
import { table } from "./output.ts";
import { eventTime, type SwhSnapshot } from "./snapshot.ts";

/** One condition, as the view shows it. */
export interface ConditionView {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
  /** lastTransitionTime. */
  readonly since?: string;
}

/** One Event about the SWH. */
export interface EventView {
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  readonly count: number;
  /** When it last happened. */
  readonly last?: string;
}

/** One node report: the pods its agent says fail, and those that pass but have started failing. */
export interface ReportView {
  readonly node: string;
  readonly failing: readonly string[];
  readonly startedFailing: readonly string[];
}

/** Everything `status` shows; also what `-o json|yaml` prints. */
export interface StatusView {
  readonly namespace: string;
  readonly name: string;
  readonly generation?: number;
  readonly observedGeneration?: number;
  /** The Ready condition, or Unknown when there is none yet. */
  readonly ready: ConditionView;
  readonly conditions: readonly ConditionView[];
  readonly endpoints: {
    /** Selected pods that pass all probes (status.readyEndpoints). */
    readonly ready?: number;
    /** Selected pods with an IP (status.totalEndpoints). */
    readonly total?: number;
    /** Selected pods published in the slices right now. */
    readonly inSlices: number;
    /** Pods the selector matches in the namespace. */
    readonly selected: number;
  };
  /** The Service; undefined when it does not exist (yet). */
  readonly service?: {
    readonly type: string;
    readonly clusterIP: string;
    readonly ports: readonly string[];
    readonly loadBalancer: readonly string[];
  };
  /** One line per probe of the spec. */
  readonly probes: readonly string[];
  readonly pods: readonly ExplainRow[];
  /** Node reports; undefined when they could not be read. */
  readonly reports?: readonly ReportView[];
  /** Why the reports could not be read. */
  readonly reportsError?: string;
  /** Events, newest last; undefined when they could not be read. */
  readonly events?: readonly EventView[];
}

function conditionView(c: {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}): ConditionView {
  return {
    type: c.type,
    status: c.status,
    reason: c.reason ?? "",
    message: c.message ?? "",
    ...(c.lastTransitionTime ? { since: c.lastTransitionTime } : {}),
  };
}

function portText(
  port: { port: number; targetPort?: number | string; protocol?: string; name?: string },
): string {
  const target = port.targetPort !== undefined && port.targetPort !== port.port ? `→${port.targetPort}` : "";
  return `${port.name ? `${port.name} ` : ""}${port.port}${target}/${port.protocol ?? "TCP"}`;
}

/** What each probe of the spec checks, with its timing, in one line each. */
export function probeLines(swh: ServiceWithHealthchecks): string[] {
  const hc = swh.spec.healthcheck;
  const period = hc?.periodSeconds ?? HEALTHCHECK_DEFAULTS.periodSeconds;
  return (hc?.probes ?? []).map((p, index) => {
    let what = "";
    if (p.mode === "TCP" && p.tcp) what = `connect to port ${p.tcp.targetPort}`;
    if (p.mode === "HTTP" && p.http) {
      const h = p.http;
      what = `${h.method ?? "GET"} ${(h.scheme ?? "HTTP").toLowerCase()}://:${h.targetPort}${h.path ?? "/"}`;
    }
    if (p.mode === "PostgreSQL" && p.postgreSQL) {
      const q = p.postgreSQL;
      what = `port ${q.targetPort}, database ${q.dbName ?? HEALTHCHECK_DEFAULTS.postgreSQLDbName}, ` +
        `"${q.query ?? HEALTHCHECK_DEFAULTS.postgreSQLQuery}"` +
        (q.authSecretName ? `, credentials from Secret ${q.authSecretName}` : "");
    }
    const timing = `every ${period}s, timeout ${p.timeoutSeconds ?? HEALTHCHECK_DEFAULTS.timeoutSeconds}s, ` +
      `out after ${p.failureThreshold ?? HEALTHCHECK_DEFAULTS.failureThreshold} failures, in after ` +
      `${p.successThreshold ?? HEALTHCHECK_DEFAULTS.successThreshold} success`;
    return `${index} ${p.mode}: ${what}; ${timing}`;
  });
}

/** Pure: the status view of a snapshot. */
export function statusView(snapshot: SwhSnapshot): StatusView {
  const { swh, service } = snapshot;
  const explanation = explain(swh, snapshot.pods, snapshot.slices, snapshot.reports ?? []);
  const conditions = (swh.status?.conditions ?? []).map(conditionView);
  const ready = conditions.find((c) => c.type === "Ready") ??
    {
      type: "Ready",
      status: "Unknown",
      reason: "NotObserved",
      message: "the controller has not written status",
    };
  const podsOf = (entries: readonly { pod: string; ready: boolean }[], ready: boolean) =>
    entries.filter((e) => e.ready === ready).map((e) => e.pod).sort();
  return {
    namespace: swh.metadata.namespace ?? "",
    name: swh.metadata.name ?? "",
    ...(swh.metadata.generation !== undefined ? { generation: swh.metadata.generation } : {}),
    ...(swh.status?.observedGeneration !== undefined
      ? { observedGeneration: swh.status.observedGeneration }
      : {}),
    ready,
    conditions,
    endpoints: {
      ...(swh.status?.readyEndpoints !== undefined ? { ready: swh.status.readyEndpoints } : {}),
      ...(swh.status?.totalEndpoints !== undefined ? { total: swh.status.totalEndpoints } : {}),
      inSlices: explanation.rows.filter((r) => r.inSlices).length,
      selected: explanation.rows.length,
    },
    ...(service
      ? {
        service: {
          type: service.spec?.type ?? "ClusterIP",
          clusterIP: service.spec?.clusterIP ?? "-",
          ports: (service.spec?.ports ?? []).map(portText),
          loadBalancer: (service.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? "?"),
        },
      }
      : {}),
    probes: probeLines(swh),
    pods: explanation.rows,
    ...(snapshot.reports
      ? {
        reports: snapshot.reports.map((r) => ({
          node: r.node,
          failing: podsOf(r.endpoints, false),
          startedFailing: podsOf(r.endpoints, true),
        })).sort((a, b) => a.node.localeCompare(b.node)),
      }
      : { reportsError: snapshot.reportsError ?? "not read" }),
    ...(snapshot.events
      ? {
        events: snapshot.events.map((e) => ({
          type: e.type ?? "Normal",
          reason: e.reason ?? "",
          message: e.message ?? "",
          count: e.series?.count ?? e.count ?? 1,
          ...(eventTime(e) ? { last: eventTime(e) } : {}),
        })),
      }
      : {}),
  };
}

/** Options of {@link renderStatus}. */
export interface StatusRenderOptions {
  /** The moment ages are relative to (default now). */
  readonly now?: number;
  /** `-o wide`: pods' resolved ports, every Event instead of the last ten. */
  readonly wide?: boolean;
  /** Namespace of the node reports, for the section title. */
  readonly operatorNamespace?: string;
}

/** How many Events the default view shows (the newest). */
const RECENT_EVENTS = 10;

/** Renders the view as text sections. */
export function renderStatus(view: StatusView, options: StatusRenderOptions = {}): string {
  const now = options.now ?? Date.now();
  const e = view.endpoints;
  const counts = e.ready !== undefined && e.total !== undefined
    ? `${e.ready}/${e.total} ready`
    : "not counted yet";
  const service = view.service
    ? `${view.service.type} ${view.service.clusterIP}` +
      (view.service.ports.length ? `, ports ${view.service.ports.join(", ")}` : "") +
      (view.service.loadBalancer.length ? `, load balancer ${view.service.loadBalancer.join(", ")}` : "")
    : "none (not created yet, or refused: see the conditions)";
  const generation = view.generation === undefined
    ? "-"
    : `${view.generation}${
      view.observedGeneration === view.generation
        ? ""
        : ` (controller saw ${view.observedGeneration ?? "none"})`
    }`;
  const summary = [
    ["Name", `${view.namespace}/${view.name}`],
    [
      "Ready",
      `${view.ready.status} ${view.ready.reason}` +
      (view.ready.since ? ` for ${humanDuration(now - Date.parse(view.ready.since))}` : "") +
      (view.ready.message ? `: ${view.ready.message}` : ""),
    ],
    ["Endpoints", `${counts}; ${e.inSlices} of ${e.selected} selected pods in the EndpointSlices`],
    ["Service", service],
    ["Generation", generation],
  ];
  const width = Math.max(...summary.map(([k]) => k.length)) + 1;
  const sections = [
    `ServiceWithHealthchecks\n${summary.map(([k, v]) => `  ${`${k}:`.padEnd(width)}  ${v}`).join("\n")}`,
    `Probes\n${view.probes.length ? view.probes.map((p) => `  ${p}`).join("\n") : "  (none)"}`,
    `Conditions\n${
      table(
        ["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"],
        view.conditions.map((c) => [c.type, c.status, c.reason, ago(c.since, now), c.message]),
        "(none yet)",
      )
    }`,
    `Pods\n${explanationTable(view.pods, { now, wide: options.wide })}`,
    `Node reports${options.operatorNamespace ? ` (${options.operatorNamespace})` : ""}\n${reportsText(view)}`,
    `Events\n${eventsText(view, now, options.wide ?? false)}`,
  ];
  return sections.join("\n\n");
}

function reportsText(view: StatusView): string {
  if (!view.reports) return `(not readable: ${view.reportsError})`;
  if (view.reports.length === 0) return "(none: no agent reports a failing pod)";
  return table(
    ["NODE", "FAILING", "STARTED FAILING"],
    view.reports.map((r) => [r.node, r.failing.join(",") || "-", r.startedFailing.join(",") || "-"]),
  );
}

function eventsText(view: StatusView, now: number, all: boolean): string {
  if (!view.events) return "(not readable)";
  const shown = all ? view.events : view.events.slice(-RECENT_EVENTS);
  const older = view.events.length - shown.length;
  return table(
    ["LAST SEEN", "TYPE", "REASON", "COUNT", "MESSAGE"],
    shown.map((ev) => [ago(ev.last, now), ev.type, ev.reason, String(ev.count), ev.message]),
    "(none)",
  ) + (older > 0 ? `\n(${older} older; -o wide shows all)` : "");
}
