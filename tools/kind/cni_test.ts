import { deepStrictEqual } from "node:assert";
import { parseAllDocuments } from "yaml";
import { kubeRouterManifest } from "./cni.ts";

Deno.test("the default CNI manifest runs kube-router from the given image, router only", () => {
  const objects = parseAllDocuments(kubeRouterManifest("swh.local/kube-router:v2.1.0")).map((d) =>
    d.toJSON()
  );
  deepStrictEqual(objects.map((o) => o.kind), [
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "ConfigMap",
    "DaemonSet",
  ]);
  const pod = objects[4].spec.template.spec;
  deepStrictEqual([...pod.initContainers, ...pod.containers].map((c: { image: string }) => c.image), [
    "swh.local/kube-router:v2.1.0",
    "swh.local/kube-router:v2.1.0",
  ]);
  deepStrictEqual(pod.containers[0].args.slice(0, 3), [
    "--run-router=true",
    "--run-firewall=false",
    "--run-service-proxy=false",
  ]);
});
