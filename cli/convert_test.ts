import { deepStrictEqual, ok, throws } from "node:assert";
import { parse } from "yaml";
import { ADOPT_SERVICE_ANNOTATION } from "../crds/conventions.ts";
import { validateSwh } from "../crds/mod.ts";
import { ConvertError, convertManifests } from "./convert.ts";

// The user guide's standard Service, verbatim.
const PRODUCTPAGE = `apiVersion: v1
kind: Service
metadata:
  name: productpage
  namespace: bookinfo
spec:
  ports:
  - name: http
    port: 9080
  selector:
    app: productpage
  type: ClusterIP
`;

Deno.test("the guide's Service becomes a valid SWH with a TCP probe per target port and the adopt annotation", () => {
  const swh = parse(convertManifests(PRODUCTPAGE));
  ok(validateSwh(swh).ok);
  deepStrictEqual(swh.metadata, {
    name: "productpage",
    namespace: "bookinfo",
    annotations: { [ADOPT_SERVICE_ANNOTATION]: "true" },
  });
  deepStrictEqual(swh.spec.selector, { app: "productpage" });
  deepStrictEqual(swh.spec.healthcheck.probes, [{ mode: "TCP", tcp: { targetPort: 9080 } }]);
});

Deno.test("an exported Service keeps its clusterIP, drops server-filled fields and kubectl bookkeeping", () => {
  const exported = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: my-ns
  labels: {team: a}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
    owner: sre
spec:
  clusterIP: 10.96.3.4
  clusterIPs: [10.96.3.4]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  internalTrafficPolicy: Cluster
  selector: {vm: my-vm}
  ports:
  - {name: http, port: 80, targetPort: http, protocol: TCP}
  - {name: alt, port: 81, targetPort: http, protocol: TCP}
`;
  const swh = parse(convertManifests(exported, { probe: "http", httpPath: "/ready" }));
  deepStrictEqual(swh.spec.clusterIP, "10.96.3.4");
  deepStrictEqual(swh.spec.clusterIPs, undefined);
  deepStrictEqual(swh.metadata.labels, { team: "a" });
  deepStrictEqual(swh.metadata.annotations, { owner: "sre", [ADOPT_SERVICE_ANNOTATION]: "true" });
  deepStrictEqual(swh.spec.healthcheck.probes, [{
    mode: "HTTP",
    http: { targetPort: "http", path: "/ready" },
  }]);
});

Deno.test("converting something that is not a convertible Service names the document and the reason", () => {
  throws(
    () => convertManifests("apiVersion: apps/v1\nkind: Deployment\n"),
    (e: unknown) =>
      e instanceof ConvertError && e.message.includes("document 0") && e.message.includes("Deployment"),
  );
  throws(
    () =>
      convertManifests(
        `${PRODUCTPAGE}---\napiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{port: 1}]\n`,
      ),
    (e: unknown) =>
      e instanceof ConvertError && e.message.includes("document 1") && e.message.includes("selector"),
  );
  throws(() => convertManifests(""), ConvertError);
});
