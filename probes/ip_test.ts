/** ipVersion agrees with node:net's isIP, which it replaces on the TCP probe path. */
import assert from "node:assert/strict";
import { isIP } from "node:net";
import { canonicalIp, ipVersion } from "./ip.ts";

const SAMPLES = [
  "10.244.1.1",
  "127.0.0.1",
  "0.0.0.0",
  "255.255.255.255",
  "256.1.1.1",
  "01.2.3.4",
  "1.2.3",
  "1.2.3.4.5",
  "1.2.3.4 ",
  " 1.2.3.4",
  "::",
  "::1",
  "fd5a:5748::1",
  "fe80::1%eth0",
  "2001:db8:0:0:0:0:2:1",
  "2001:db8::2:1:0:0:0:0",
  "::ffff:10.0.0.1",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8:9",
  "1::2::3",
  "gggg::1",
  "[::1]",
  "localhost",
  "example.com",
  "",
];

Deno.test("ipVersion matches node:net isIP", () => {
  for (const sample of SAMPLES) assert.equal(ipVersion(sample), isIP(sample), JSON.stringify(sample));
});

Deno.test("canonicalIp writes addresses as the apiserver wants them in EndpointSlices", () => {
  const cases: [string, string | undefined][] = [
    ["10.244.1.1", "10.244.1.1"],
    ["010.001.0.9", "10.1.0.9"], // Kubernetes' legacy parser reads leading zeros as decimal
    ["256.1.1.1", undefined],
    ["1.2.3", undefined],
    ["fd5a:5748:0::1", "fd5a:5748::1"],
    ["FD5A:5748:0000:0000:0000:0000:0000:0001", "fd5a:5748::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of two equal runs
    ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"], // the longest run, not the first
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group stays
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
    ["::ffff:a00:1", "::ffff:10.0.0.1"],
    ["64:ff9b::10.0.0.1", "64:ff9b::a00:1"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["1:2:3:4:5:6:7:8:9", undefined],
    ["1::2::3", undefined],
    ["1:2:3:4:5:6:7:8::", undefined],
    ["fe80::1%eth0", undefined],
    ["gggg::1", undefined],
    ["", undefined],
  ];
  for (const [input, want] of cases) assert.equal(canonicalIp(input), want, input);
});
