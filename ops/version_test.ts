import { strictEqual } from "node:assert/strict";
import { VERSION } from "./version.ts";

Deno.test("VERSION is deno.json's version", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  strictEqual(VERSION, denoJson.version);
});
