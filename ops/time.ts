/**
 * Time as people read it: kubectl-style ages ("12s", "5m30s", "3d"), so the CLI and the tools print them alike.
 * (Time as the apiserver writes it is kube/time.ts.)
 *
 * @module
 */

/**
 * A duration as kubectl prints ages (its `HumanDuration`): seconds below 2 minutes, then coarser units with one
 * subunit while it still matters (`5m30s`, `7h15m`, `3d4h`), `<invalid>` for a negative span beyond clock skew.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  const withSub = (major: number, unit: string, minor: number, subunit: string) =>
    minor === 0 ? `${major}${unit}` : `${major}${unit}${minor}${subunit}`;
  if (minutes < 10) return withSub(minutes, "m", seconds % 60, "s");
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return withSub(hours, "h", minutes % 60, "m");
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (days < 8) return withSub(days, "d", hours % 24, "h");
  if (days < 730) return `${days}d`;
  const years = Math.floor(days / 365);
  if (years < 8) return withSub(years, "y", days % 365, "d");
  return `${years}y`;
}

/**
 * How long ago `timestamp` (RFC 3339, as in `lastTransitionTime`) was, relative to `now`: `12s ago`. Undefined or
 * unparsable timestamps read `-`, so a table cell is never empty.
 */
export function ago(timestamp: string | undefined, now: Date | number = Date.now()): string {
  const then = timestamp ? Date.parse(timestamp) : NaN;
  if (Number.isNaN(then)) return "-";
  return `${humanDuration(new Date(now).getTime() - then)} ago`;
}
