import { deepStrictEqual, throws } from "node:assert";
import { imageConfigJson, indexJson, manifestJson, MEDIA_TYPES, referenceTag } from "./oci.ts";

Deno.test("referenceTag takes the tag after the last path segment, not a registry port", () => {
  deepStrictEqual(referenceTag("registry.k8s.io/pause:3.10.2"), "3.10.2");
  deepStrictEqual(referenceTag("localhost:5000/swh/x:v1"), "v1");
  throws(() => referenceTag("localhost:5000/swh/x"), /has no tag/);
});

Deno.test("the config lists the layers' digests and the runtime settings in OCI's spelling", () => {
  const config = JSON.parse(imageConfigJson({ entrypoint: ["/pause"], user: "65535:65535" }, ["sha256:aa"]));
  deepStrictEqual(config, {
    architecture: "amd64",
    os: "linux",
    config: {
      Entrypoint: ["/pause"],
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      User: "65535:65535",
    },
    rootfs: { type: "layers", diff_ids: ["sha256:aa"] },
  });
});

Deno.test("the index names the image as containerd's exporter does", () => {
  const config = { mediaType: MEDIA_TYPES.config, digest: "sha256:cc", size: 2 };
  const layer = { mediaType: MEDIA_TYPES.layer, digest: "sha256:ll", size: 3 };
  deepStrictEqual(JSON.parse(manifestJson(config, [layer])), {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config,
    layers: [layer],
  });
  const manifest = { mediaType: MEDIA_TYPES.manifest, digest: "sha256:mm", size: 5 };
  deepStrictEqual(JSON.parse(indexJson(manifest, "registry.k8s.io/kube-proxy:v1.36.3")).manifests, [{
    ...manifest,
    annotations: {
      "io.containerd.image.name": "registry.k8s.io/kube-proxy:v1.36.3",
      "org.opencontainers.image.ref.name": "v1.36.3",
    },
  }]);
});
