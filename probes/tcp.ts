/**
 * TCP probe: success means a connection to the target was established within the timeout.
 *
 * @module
 */
import { checkTarget, failedResult, result, startDeadline } from "./deadline.ts";
import type { ProbeResult, ProbeTarget, TcpProbeSpec } from "./types.ts";

/**
 * Connects to `target` and closes the connection at once. Never rejects.
 *
 * `Deno.connect` is used directly (not node:net): it is the cheapest connect Deno offers and its `signal`
 * option cancels a pending connect, so a target that drops SYNs costs no more than the timeout.
 */
export async function probeTcp(
  target: ProbeTarget,
  spec: TcpProbeSpec,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const startedAt = performance.now();
  const deadline = startDeadline(spec.timeoutSeconds, signal);
  try {
    checkTarget(target);
    const conn = await Deno.connect({ hostname: target.ip, port: target.port, signal: deadline.signal });
    conn.close();
    return result(true, "connected", startedAt);
  } catch (error) {
    return failedResult(error, deadline, "connect", spec.timeoutSeconds, startedAt);
  } finally {
    deadline.dispose();
  }
}
