/** Structured logging: one JSON object per line on stderr, with the object a line is about. */

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Fields attached to a log line; `error` values are rendered as their message and cause chain. */
export type LogFields = Record<string, unknown>;

/** A logger bound to a component and optional fixed fields. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. `{ object: "ns/name" }`). */
  with(fields: LogFields): Logger;
}

function render(value: unknown): unknown {
  if (value instanceof Error) {
    const cause = value.cause === undefined ? undefined : render(value.cause);
    return cause === undefined
      ? `${value.name}: ${value.message}`
      : `${value.name}: ${value.message} (cause: ${cause})`;
  }
  return value;
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written (default from env `SWH_LOG_LEVEL`, else `info`). */
  level?: LogLevel;
  /** Where lines go (default stderr); tests capture lines here. */
  write?: (line: string) => void;
}

/** Creates a logger for `component`. */
export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  const envLevel = Deno.env.get("SWH_LOG_LEVEL") as LogLevel | undefined;
  const min = ORDER[options.level ?? (envLevel && envLevel in ORDER ? envLevel : "info")];
  const write = options.write ?? ((line: string) => console.error(line));
  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel) => (msg: string, fields: LogFields = {}) => {
      if (ORDER[level] < min) return;
      const line: LogFields = { ts: new Date().toISOString(), level, component, msg };
      for (const [key, value] of Object.entries({ ...base, ...fields })) line[key] = render(value);
      write(JSON.stringify(line));
    };
    return {
      debug: emit("debug"),
      info: emit("info"),
      warn: emit("warn"),
      error: emit("error"),
      with: (fields) => make({ ...base, ...fields }),
    };
  };
  return make({});
}
