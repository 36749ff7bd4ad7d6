/**
 * The Secrets the controller reads, without holding every Secret of the cluster in memory: it watches Secrets as
 * metadata only (name, resourceVersion — never data), and reads the contents of just the few that matter (those
 * an SWH names as credentials, and our mirrored copies) with a GET, again only when their resourceVersion moved.
 *
 * RBAC: list/watch secrets cluster-wide (metadata), get secrets (the referenced ones).
 *
 * @module
 */
import type { ISecret } from "kubernetes-models/v1/Secret";
import { Api, isApiError, Secrets } from "../kube/mod.ts";
import type { KubeTransport, PartialObjectMetadata, Store } from "../kube/mod.ts";

/** Secret contents on demand, kept current against a metadata-only cache. */
export class SecretContents {
  readonly #meta: Store<PartialObjectMetadata>;
  readonly #api: Api<ISecret>;
  /** Contents read, by `namespace/name`, with the resourceVersion they were read at. */
  readonly #loaded = new Map<string, ISecret>();

  /** `meta`: the metadata-only Secret cache; `transport`: where contents are read. */
  constructor(meta: Store<PartialObjectMetadata>, transport: KubeTransport) {
    this.#meta = meta;
    this.#api = Api.all(transport, Secrets);
  }

  /**
   * Makes {@link get} answer for these Secrets: reads those whose contents are not loaded at the resourceVersion
   * the cache shows (a GET each; missing ones are simply absent).
   */
  async load(refs: Iterable<[namespace: string, name: string]>, signal?: AbortSignal): Promise<void> {
    for (const [namespace, name] of refs) {
      const key = `${namespace}/${name}`;
      const rv = this.#meta.get(namespace, name)?.metadata?.resourceVersion;
      if (rv === undefined) {
        this.#loaded.delete(key);
        continue;
      }
      if (this.#loaded.get(key)?.metadata?.resourceVersion === rv) continue;
      try {
        const secret = await this.#api.inNamespace(namespace).get(name, { resourceVersion: rv, signal });
        this.#loaded.set(key, secret);
      } catch (err) {
        if (!isApiError(err, 404)) throw err;
        this.#loaded.delete(key);
      }
    }
  }

  /** A loaded Secret, if it exists (as of the last {@link load} of it). */
  get(namespace: string, name: string): ISecret | undefined {
    if (!this.#meta.get(namespace, name)) return undefined;
    return this.#loaded.get(`${namespace}/${name}`);
  }

  /** Forgets contents nobody needs any more (their Secret is gone, or `keep` says so). */
  prune(keep: (namespace: string, name: string) => boolean): void {
    for (const [key, secret] of this.#loaded) {
      const ns = secret.metadata?.namespace ?? "", name = secret.metadata?.name ?? "";
      if (!this.#meta.get(ns, name) || !keep(ns, name)) this.#loaded.delete(key);
    }
  }
}
