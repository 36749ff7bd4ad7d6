import { deepStrictEqual } from "node:assert/strict";
import { difference, parseSamples, sumBy, total } from "./prometheus.ts";

const TEXT = `# HELP apiserver_request_total Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",resource="pods",verb="POST"} 3
apiserver_request_total{code="429",resource="pods",verb="POST"} 2
apiserver_request_total{code="200",resource="endpointslices",subresource="",verb="APPLY"} 7 1700000000000
other_metric 1
with_escapes{msg="a \\"quoted\\" {brace}"} 4
`;

Deno.test("parseSamples reads names, labels (with escapes and braces) and values; filters by name", () => {
  const samples = parseSamples(TEXT);
  deepStrictEqual(samples.map((s) => [s.name, s.value]), [
    ["apiserver_request_total", 3],
    ["apiserver_request_total", 2],
    ["apiserver_request_total", 7],
    ["other_metric", 1],
    ["with_escapes", 4],
  ]);
  deepStrictEqual(samples[4].labels, { msg: 'a "quoted" {brace}' });
  deepStrictEqual(parseSamples(TEXT, new Set(["other_metric"])).length, 1);
});

Deno.test("sumBy groups, difference keeps what changed, total adds up", () => {
  const samples = parseSamples(TEXT);
  const byVerb = sumBy(samples, "apiserver_request_total", (l) => l.verb);
  deepStrictEqual([...byVerb], [["POST", 5], ["APPLY", 7]]);
  const only429 = sumBy(samples, "apiserver_request_total", () => "429", (l) => l.code === "429");
  deepStrictEqual([...only429], [["429", 2]]);
  const later = new Map([["POST", 5], ["APPLY", 9], ["DELETE", 1]]);
  deepStrictEqual([...difference(byVerb, later)], [["APPLY", 2], ["DELETE", 1]]);
  deepStrictEqual(total(later), 15);
});
