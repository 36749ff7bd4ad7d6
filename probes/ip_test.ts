/** ipVersion agrees with node:net's isIP, which it replaces on the TCP probe path. */
import assert from "node:assert/strict";
import { isIP } from "node:net";
import { ipVersion } from "./ip.ts";

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
