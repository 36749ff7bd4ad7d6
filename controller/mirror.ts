/**
 * The credentials reconcile: makes the operator namespace hold exactly the copies of probe Secrets that the
 * SWHs reference (controller/credentials.ts computes them), so agents read Secrets there and nowhere else.
 *
 * RBAC: list/watch secrets cluster-wide (metadata) and get the referenced ones (controller/secrets.ts);
 * create/patch/delete secrets in the operator namespace.
 *
 * @module
 */
import { CONTROLLER_FIELD_MANAGER, MIRRORED_SECRET_LABEL } from "../crds/conventions.ts";
import { Api, isApiError, Secrets } from "../kube/mod.ts";
import type { KubeObject } from "../kube/mod.ts";
import { applyWouldChange } from "../kube/ssa.ts";
import type { Action } from "../kube/workqueue.ts";
import { credentialRefs, desiredMirroredSecrets } from "./credentials.ts";
import { ReconcileError } from "./reconcile.ts";
import type { ReconcileContext } from "./reconcile.ts";

/** Whether a Secret (or its metadata) is one of our mirrored copies. */
export function isMirroredSecret(secret: KubeObject, operatorNamespace: string): boolean {
  return secret.metadata?.namespace === operatorNamespace &&
    secret.metadata?.labels?.[MIRRORED_SECRET_LABEL] !== undefined;
}

/**
 * Makes the operator namespace hold exactly the copies {@link desiredMirroredSecrets} computes: applies new
 * or changed ones (only when they would change), deletes copies nobody references any more.
 */
export async function reconcileCredentials(ctx: ReconcileContext, signal: AbortSignal): Promise<Action> {
  // The contents of the referenced Secrets and of our copies; nothing else is read.
  const referenced = new Set<string>();
  for (const swh of ctx.swhs.list()) {
    for (const name of credentialRefs(swh)) referenced.add(`${swh.metadata.namespace}/${name}`);
  }
  const copies = ctx.secrets.list().filter((s) => isMirroredSecret(s, ctx.operatorNamespace));
  await ctx.secretContents.load(
    [
      ...[...referenced].map((k) => k.split("/", 2) as [string, string]),
      ...copies.map((c) => [ctx.operatorNamespace, c.metadata?.name ?? ""] as [string, string]),
    ],
    signal,
  );
  ctx.secretContents.prune((ns, n) => referenced.has(`${ns}/${n}`) || ns === ctx.operatorNamespace);
  const desired = desiredMirroredSecrets(
    ctx.swhs.list(),
    (ns, n) => ctx.secretContents.get(ns, n),
    ctx.operatorNamespace,
  );
  const log = ctx.log.with({ kind: "Secret", namespace: ctx.operatorNamespace });
  for (const [name, secret] of desired) {
    const observed = ctx.secretContents.get(ctx.operatorNamespace, name);
    if (!applyWouldChange(observed, secret, { manager: CONTROLLER_FIELD_MANAGER })) continue;
    try {
      await Api.namespaced(ctx.transport, Secrets, ctx.operatorNamespace).apply(secret, {
        fieldManager: CONTROLLER_FIELD_MANAGER,
        force: true,
        signal,
      });
    } catch (err) {
      throw new ReconcileError(`apply mirrored Secret ${ctx.operatorNamespace}/${name}`, err);
    }
    log.info(observed ? "updated mirrored credentials" : "mirrored credentials", {
      object: `${ctx.operatorNamespace}/${name}`,
      source: secret.metadata?.annotations,
    });
  }
  for (const secret of ctx.secrets.list()) {
    const name = secret.metadata?.name ?? "";
    if (!isMirroredSecret(secret, ctx.operatorNamespace) || desired.has(name)) continue;
    try {
      await Api.namespaced(ctx.transport, Secrets, ctx.operatorNamespace).delete(name, {
        preconditions: { uid: secret.metadata?.uid },
        signal,
      });
    } catch (err) {
      if (isApiError(err, 404) || isApiError(err, 409)) continue;
      throw new ReconcileError(`delete mirrored Secret ${ctx.operatorNamespace}/${name}`, err);
    }
    log.info("deleted mirrored credentials no ServiceWithHealthchecks references", {
      object: `${ctx.operatorNamespace}/${name}`,
    });
  }
  return {};
}
