/**
 * The pod network of the kind node image: kube-router as kind's "default CNI" (kind applies
 * /kind/manifests/default-cni.yaml while creating the cluster). kind's own kindnetd lives in a separate Go
 * module that the module proxy does not serve, so it cannot be built here; kube-router builds from the
 * proxy and does the same job on one L2 network: it writes each node's CNI configuration (bridge +
 * host-local on the node's podCIDR) and routes every other node's podCIDR via that node. Its firewall and
 * service proxy stay off: kube-proxy (iptables) carries Services, as in the local lab.
 *
 * @module
 */
import { stringify } from "yaml";

const NAME = "kube-router";
const NAMESPACE = "kube-system";
/** Where kube-router keeps the CNI configuration it fills with the node's podCIDR. */
const CNI_CONF = "/etc/cni/net.d/10-kuberouter.conflist";

/** The CNI configuration kube-router starts from (it adds the `subnet` of host-local). */
export const CNI_CONFLIST = {
  cniVersion: "0.3.0",
  name: "swh-kind",
  plugins: [
    {
      name: "kubernetes",
      type: "bridge",
      bridge: "kube-bridge",
      isDefaultGateway: true,
      ipam: { type: "host-local" },
    },
    { type: "portmap", capabilities: { portMappings: true, snat: true } },
  ],
};

/** Objects of the manifest: RBAC for what kube-router reads, its configuration, and the DaemonSet. */
export function kubeRouterObjects(image: string): Record<string, unknown>[] {
  const labels = { "k8s-app": NAME, tier: "node" };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NAME, namespace: NAMESPACE } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: NAME },
      rules: [
        {
          apiGroups: [""],
          resources: ["namespaces", "pods", "services", "nodes", "endpoints"],
          verbs: ["get", "list", "watch"],
        },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: NAME },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: NAME },
      subjects: [{ kind: "ServiceAccount", name: NAME, namespace: NAMESPACE }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `${NAME}-cfg`, namespace: NAMESPACE, labels },
      data: { "cni-conf.json": JSON.stringify(CNI_CONFLIST, null, 2) },
    },
    {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: NAME, namespace: NAMESPACE, labels },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            priorityClassName: "system-node-critical",
            serviceAccountName: NAME,
            hostNetwork: true,
            tolerations: [{ operator: "Exists" }],
            initContainers: [{
              name: "install-cni",
              image,
              // The configuration appears only now, so a node reports a ready network only once its router runs.
              command: ["sh", "-c", `[ -f ${CNI_CONF} ] || cp /etc/kube-router/cni-conf.json ${CNI_CONF}`],
              volumeMounts: [
                { name: "cni-conf-dir", mountPath: "/etc/cni/net.d" },
                { name: "kube-router-cfg", mountPath: "/etc/kube-router" },
              ],
            }],
            containers: [{
              name: NAME,
              image,
              command: ["/usr/local/bin/kube-router"],
              args: [
                "--run-router=true",
                "--run-firewall=false",
                "--run-service-proxy=false",
                "--bgp-graceful-restart=true",
              ],
              env: [
                { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                { name: "KUBE_ROUTER_CNI_CONF_FILE", value: CNI_CONF },
              ],
              livenessProbe: {
                httpGet: { path: "/healthz", port: 20244 },
                initialDelaySeconds: 10,
                periodSeconds: 3,
              },
              resources: { requests: { cpu: "50m", memory: "64Mi" } },
              securityContext: { privileged: true },
              volumeMounts: [
                { name: "lib-modules", mountPath: "/lib/modules", readOnly: true },
                { name: "cni-conf-dir", mountPath: "/etc/cni/net.d" },
                { name: "xtables-lock", mountPath: "/run/xtables.lock" },
              ],
            }],
            volumes: [
              { name: "lib-modules", hostPath: { path: "/lib/modules" } },
              { name: "cni-conf-dir", hostPath: { path: "/etc/cni/net.d" } },
              { name: "kube-router-cfg", configMap: { name: `${NAME}-cfg` } },
              { name: "xtables-lock", hostPath: { path: "/run/xtables.lock", type: "FileOrCreate" } },
            ],
          },
        },
      },
    },
  ];
}

/** The manifest kind applies (documents separated by `---`). */
export function kubeRouterManifest(image: string): string {
  return kubeRouterObjects(image).map((object) => stringify(object)).join("---\n");
}
