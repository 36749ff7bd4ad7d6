import { deepStrictEqual, throws } from "node:assert/strict";
import { flagHelp, type FlagSpec, parseArgs, UsageError } from "./args.ts";

const SPECS: FlagSpec[] = [
  { name: "namespace", short: "n", value: true, help: "ns" },
  { name: "output", short: "o", value: true, choices: ["json", "yaml", "wide"], help: "out" },
  { name: "watch", short: "w", help: "watch" },
];

const read = (args: string[]) => {
  const parsed = parseArgs(args, SPECS);
  return { flags: Object.fromEntries(parsed.flags), positional: parsed.positional };
};

Deno.test("flags in every kubectl spelling; positionals in order; -- ends the flags", () => {
  deepStrictEqual(read(["web", "-n", "a", "-o", "json"]), {
    flags: { namespace: "a", output: "json" },
    positional: ["web"],
  });
  deepStrictEqual(read(["--namespace=a", "web", "--output", "yaml", "-w"]), {
    flags: { namespace: "a", output: "yaml", watch: true },
    positional: ["web"],
  });
  deepStrictEqual(read(["-na", "-owide", "web"]), {
    flags: { namespace: "a", output: "wide" },
    positional: ["web"],
  });
  deepStrictEqual(read(["-n=a", "--watch=true"]), { flags: { namespace: "a", watch: true }, positional: [] });
  deepStrictEqual(read(["--", "-n", "x"]), { flags: {}, positional: ["-n", "x"] });
  deepStrictEqual(read(["-"]), { flags: {}, positional: ["-"] }, "'-' is stdin, not a flag");
});

Deno.test("unknown flags, missing values and values outside the choices are refused, not ignored", () => {
  const refused = (args: string[], text: string) =>
    throws(() => parseArgs(args, SPECS), (e: unknown) => e instanceof UsageError && e.message.includes(text));
  refused(["--probe=http"], "unknown flag: --probe");
  refused(["-x"], "unknown shorthand flag: 'x'");
  refused(["-n"], "flag needs an argument: -n");
  refused(["--namespace="], "flag needs an argument: --namespace");
  refused(["-o", "table"], 'invalid value "table" for -o: one of json, yaml, wide');
  refused(["--watch=yes"], "takes no value");
  refused(["-wx"], "takes no value");
});

Deno.test("flag help is aligned, with short names and placeholders", () => {
  deepStrictEqual(
    flagHelp([{ name: "namespace", short: "n", value: true, placeholder: "NS", help: "ns" }, {
      name: "all",
      help: "all",
    }]),
    "  -n, --namespace=NS  ns\n      --all           all",
  );
});
