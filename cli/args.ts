/**
 * Command-line flags the way kubectl reads them: `--name value`, `--name=value`, `-n value`, `-nvalue`, boolean
 * switches, `--` ending the flags, and every flag that is not declared — or a value that is not allowed —
 * refused with a message instead of ignored.
 *
 * @module
 */

/** One flag a command accepts. */
export interface FlagSpec {
  /** Long name without dashes, e.g. `namespace`. */
  readonly name: string;
  /** One-letter short name, e.g. `n`. */
  readonly short?: string;
  /** Takes a value (`--output json`); otherwise a boolean switch. */
  readonly value?: boolean;
  /** The only values allowed, when the set is closed (`json`, `yaml`, `wide`). */
  readonly choices?: readonly string[];
  /** One line of help; the value's placeholder is taken from `placeholder` (default `VALUE`). */
  readonly help: string;
  /** Placeholder of the value in help text, e.g. `NAME`. */
  readonly placeholder?: string;
}

/** The command line, read. */
export interface ParsedArgs {
  /** Values of flags given, by long name; switches are `true`. */
  readonly flags: ReadonlyMap<string, string | true>;
  /** Arguments that are not flags, in order. */
  readonly positional: readonly string[];
}

/** The command line is wrong: says what and how to fix it. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Reads `args` against `specs`; throws {@link UsageError} for anything undeclared, missing or not allowed. */
export function parseArgs(args: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  const set = (spec: FlagSpec, given: string, value: string | undefined) => {
    if (!spec.value) {
      if (value !== undefined && value !== "true") {
        throw new UsageError(`flag ${given} takes no value (got "${value}")`);
      }
      flags.set(spec.name, true);
      return;
    }
    if (value === undefined || value === "") throw new UsageError(`flag needs an argument: ${given}`);
    if (spec.choices && !spec.choices.includes(value)) {
      throw new UsageError(`invalid value "${value}" for ${given}: one of ${spec.choices.join(", ")}`);
    }
    flags.set(spec.name, value);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = specs.find((s) => s.name === name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
      const inline = eq < 0 ? undefined : arg.slice(eq + 1);
      set(spec, `--${name}`, inline ?? (spec.value ? args[++i] : undefined));
    } else if (arg.startsWith("-") && arg !== "-") {
      const letter = arg[1];
      const spec = specs.find((s) => s.short === letter);
      if (!spec) throw new UsageError(`unknown shorthand flag: '${letter}' in ${arg}`);
      const rest = arg.slice(2).replace(/^=/, "");
      if (spec.value) set(spec, `-${letter}`, rest !== "" ? rest : args[++i]);
      else if (rest !== "") throw new UsageError(`flag -${letter} takes no value (got "${rest}")`);
      else set(spec, `-${letter}`, undefined);
    } else {
      positional.push(arg);
    }
  }
  return { flags, positional };
}

/** The value of flag `name`, when given (switches read `"true"`). */
export function flagValue(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.flags.get(name);
  return value === true ? "true" : value;
}

/** Help text lines for `specs`, aligned like kubectl's "Options:" section. */
export function flagHelp(specs: readonly FlagSpec[]): string {
  const left = specs.map((s) =>
    `${s.short ? `-${s.short}, ` : "    "}--${s.name}${s.value ? `=${s.placeholder ?? "VALUE"}` : ""}`
  );
  const width = Math.max(...left.map((l) => l.length));
  return specs.map((s, i) => `  ${left[i].padEnd(width)}  ${s.help}`).join("\n");
}
