/** CRD probes → the probe engine's concrete specs for one pod (ports resolved, credentials read). */
import type { IPod } from "kubernetes-models/v1/Pod";
import type { ISecret } from "kubernetes-models/v1/Secret";
import { MIRRORED_SECRET_SOURCE_ANNOTATION, mirroredSecretName } from "../crds/conventions.ts";
import { parseCredentials } from "../crds/credentials.ts";
import type { Probe, ServiceWithHealthchecks } from "../crds/schema.ts";
import type { ScheduledProbe } from "../probes/scheduler.ts";
import type {
  PostgresCredentials,
  ProbeResult,
  ProbeRunner,
  ProbeSpec,
  TcpProbeSpec,
} from "../probes/types.ts";
import { resolvePort } from "./endpoints.ts";

/**
 * A probe that cannot run because its configuration is incomplete for this pod (no credentials, unknown port
 * name). It is still scheduled, so the endpoint's state machine sees a failure every period (and a later fix
 * of the Secret or pod is picked up like any spec change), but {@link withConfigErrors} answers it without
 * touching the network.
 */
export interface ConfigErrorSpec extends TcpProbeSpec {
  /** Why the probe cannot run: CamelCase reason and a message for status and events. */
  readonly configError: { readonly reason: string; readonly message: string };
}

/** Looks up a mirrored credentials copy by its name in the operator namespace. */
export type MirrorLookup = (name: string) => ISecret | undefined;

/** The configuration error of a spec built by {@link scheduledProbes}, if it is one. */
export function configErrorOf(spec: ProbeSpec): { reason: string; message: string } | undefined {
  return (spec as Partial<ConfigErrorSpec>).configError;
}

/** Wraps a runner so that {@link ConfigErrorSpec}s fail at once with their reason instead of being run. */
export function withConfigErrors(runner: ProbeRunner): ProbeRunner {
  return function runAgentProbe(target, spec, signal): Promise<ProbeResult> {
    const error = configErrorOf(spec);
    if (error) {
      return Promise.resolve({ ok: false, reason: `${error.reason}: ${error.message}`, durationMs: 0 });
    }
    return runner(target, spec, signal);
  };
}

/**
 * Credentials of a PostgreSQL probe from the mirrored copy of Secret `source` (`namespace/name`), or a reason and
 * message. A copy whose source annotation names another Secret is not used (names cannot collide, and even if
 * one did, one tenant's probes must never log in with another's password). Usability is decided by the same
 * function the controller uses (crds/credentials.ts).
 */
export function credentialsFrom(
  secret: ISecret | undefined,
  source: string,
): { ok: true; credentials: PostgresCredentials } | { ok: false; reason: string; message: string } {
  if (!secret) {
    return {
      ok: false,
      reason: "NoCredentials",
      message:
        `credentials Secret ${source} has not been mirrored (missing, or the controller has not copied it yet)`,
    };
  }
  const recorded = secret.metadata?.annotations?.[MIRRORED_SECRET_SOURCE_ANNOTATION];
  if (recorded !== source) {
    return {
      ok: false,
      reason: "NoCredentials",
      message: `the mirrored copy ${secret.metadata?.name} belongs to Secret ${
        recorded ?? "(unknown)"
      }, not ${source}`,
    };
  }
  const parsed = parseCredentials(secret, source);
  if (!parsed.ok) {
    return {
      ok: false,
      reason: parsed.reason === "SecretKeyMissing" ? "NoCredentials" : parsed.reason,
      message: parsed.message,
    };
  }
  return { ok: true, credentials: parsed.credentials };
}

function configError(common: TcpProbeSpec, reason: string, message: string): ConfigErrorSpec {
  return { ...common, configError: { reason, message } };
}

/** Name under which probe `index` of an SWH runs in the scheduler (and is reported in status). */
export function probeName(index: number): string {
  return String(index);
}

/**
 * The scheduler's probes for one pod of `swh`: one per `spec.healthcheck.probes` entry, named by index, with
 * the target port resolved for this pod and credentials read through `secrets`. Never throws: what cannot run
 * becomes a {@link ConfigErrorSpec} (`PortNotFound`, `NoCredentials`, `InvalidCredentials`).
 */
export function scheduledProbes(
  swh: ServiceWithHealthchecks,
  pod: IPod,
  mirrors: MirrorLookup,
): ScheduledProbe[] {
  const hc = swh.spec.healthcheck;
  return hc.probes.map((probe: Probe, index): ScheduledProbe => {
    const common = {
      timeoutSeconds: probe.timeoutSeconds,
      successThreshold: probe.successThreshold,
      failureThreshold: probe.failureThreshold,
    };
    const policy = {
      name: probeName(index),
      periodSeconds: hc.periodSeconds,
      initialDelaySeconds: hc.initialDelaySeconds,
      ...(hc.transitionPeriodSeconds ? { transitionPeriodSeconds: hc.transitionPeriodSeconds } : {}),
    };
    const block = probe.mode === "TCP" ? probe.tcp : probe.mode === "HTTP" ? probe.http : probe.postgreSQL;
    const port = resolvePort(pod, block.targetPort, "TCP");
    const broken = { mode: "TCP" as const, ...common };
    if (port === undefined) {
      const spec = configError(
        broken,
        "PortNotFound",
        `pod ${pod.metadata?.name} has no TCP container port named ${JSON.stringify(block.targetPort)}`,
      );
      return { ...policy, port: 1, spec };
    }
    switch (probe.mode) {
      case "TCP":
        return { ...policy, port, spec: { mode: "TCP", ...common } };
      case "HTTP": {
        const h = probe.http;
        const spec: ProbeSpec = {
          mode: "HTTP",
          ...common,
          http: {
            path: h.path,
            method: h.method,
            scheme: h.scheme,
            ...(h.host ? { host: h.host } : {}),
            ...(h.httpHeaders ? { httpHeaders: h.httpHeaders } : {}),
            ...(h.caCert ? { caCert: h.caCert } : {}),
            ...(h.insecureSkipTLSVerify ? { insecureSkipTLSVerify: true } : {}),
            ...(h.expectedStatusCodes ? { expectedStatusCodes: h.expectedStatusCodes } : {}),
          },
        };
        return { ...policy, port, spec };
      }
      case "PostgreSQL": {
        const p = probe.postgreSQL;
        const ns = swh.metadata.namespace ?? "";
        const creds = credentialsFrom(
          mirrors(mirroredSecretName(ns, p.authSecretName)),
          `${ns}/${p.authSecretName}`,
        );
        if (!creds.ok) return { ...policy, port, spec: configError(broken, creds.reason, creds.message) };
        const spec: ProbeSpec = {
          mode: "PostgreSQL",
          ...common,
          postgreSQL: { dbName: p.dbName, query: p.query, credentials: creds.credentials },
        };
        return { ...policy, port, spec };
      }
    }
  });
}

/**
 * CamelCase reason of a failed result, for `status.endpoints[].failingProbes[].reason` and events. The probe
 * engine reports human text; this maps its shapes onto a small, stable vocabulary.
 */
export function failureReasonCode(result: ProbeResult | undefined): string {
  if (!result) return "NotYetProbed";
  const text = result.reason;
  const own = /^([A-Z][A-Za-z]+): /.exec(text);
  if (own) return own[1];
  if (/^timeout/i.test(text)) return "Timeout";
  if (/^cancelled/i.test(text)) return "Cancelled";
  if (/^invalid probe/i.test(text)) return "InvalidProbe";
  if (/refused/i.test(text)) return "ConnectionRefused";
  if (/reset/i.test(text)) return "ConnectionReset";
  if (/unreachable/i.test(text)) return "Unreachable";
  if (/^HTTP \d+/.test(text)) return "UnexpectedStatus";
  if (/^query returned/.test(text)) return "QueryFalse";
  if (/password|authentication|auth/i.test(text)) return "AuthenticationFailed";
  if (/tls|ssl|certificate/i.test(text)) return "TLSError";
  return "ProbeFailed";
}
