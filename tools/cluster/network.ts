/**
 * The host interface that carries the apiserver's advertise address (kube-apiserver refuses loopback).
 *
 * It is a port-less bridge rather than a `dummy` link: our CI kernels ship without the dummy driver,
 * while bridges (needed anyway for pod networks) are always there.
 */
import { run } from "./exec.ts";

/** Creates (or re-creates) an interface `name` holding `address`/32. Needs root and iproute2. */
export async function createAddressInterface(name: string, address: string): Promise<void> {
  await deleteInterface(name);
  await run("ip", ["link", "add", name, "type", "bridge"]);
  await run("ip", ["addr", "add", `${address}/32`, "dev", name]);
  await run("ip", ["link", "set", name, "up"]);
}

/** Deletes interface `name`; an interface that does not exist is fine. */
export async function deleteInterface(name: string): Promise<void> {
  const exists = await run("ip", ["link", "show", name], { allowFailure: true });
  if (exists.code === 0) await run("ip", ["link", "del", name]);
}

/** A TCP port that was free a moment ago on `hostname` (the OS picks it). */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
