/** Kubernetes' two wire formats of time, so every writer spells them identically (and compares them stably). */

/** metav1.Time: RFC 3339 in UTC to the second, as the apiserver stores it (`2026-01-02T03:04:05Z`). */
export function metaTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

/** metav1.MicroTime: RFC 3339 in UTC with exactly six fractional digits (Leases, Events). */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
