import { deepStrictEqual } from "node:assert/strict";
import { Index } from "./index.ts";
import type { InformerEvent } from "./informer.ts";
import type { KubeObject } from "./resources.ts";

Deno.test("index: objects follow their key through add, update and delete", () => {
  let emit: (e: InformerEvent<KubeObject>) => void = () => {};
  const index = new Index<KubeObject>({ subscribe: (h) => emit = h }, (o) => {
    const owner = o.metadata?.labels?.owner;
    return owner ? [owner] : [];
  });
  const obj = (name: string, owner?: string): KubeObject => ({
    metadata: { namespace: "ns", name, labels: owner ? { owner } : {} },
  });
  emit({ type: "add", object: obj("a", "x") });
  emit({ type: "add", object: obj("b", "x") });
  emit({ type: "add", object: obj("c") });
  deepStrictEqual(index.get("x").map((o) => o.metadata?.name).sort(), ["a", "b"]);
  emit({ type: "update", old: obj("b", "x"), object: obj("b", "y") });
  deepStrictEqual(index.get("x").map((o) => o.metadata?.name), ["a"]);
  deepStrictEqual(index.get("y").map((o) => o.metadata?.name), ["b"]);
  emit({ type: "delete", object: obj("a", "x") });
  deepStrictEqual(index.get("x"), []);
  deepStrictEqual(index.keys(), ["y"]);
});
