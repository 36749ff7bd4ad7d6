/**
 * Where the fleet's pods live and which SWH selects them, as a pure function of the parameters: pods are dealt
 * to nodes round-robin, and each SWH takes `podsPerSwh` consecutive pods of that order, so its pods sit on
 * different nodes and every node carries a share of every kind of change.
 *
 * @module
 */

/** One pod of the fleet. */
export interface FleetPod {
  /** Pod name, also the key of its address: pod `i` owns address number `i`. */
  readonly name: string;
  /** Index of the pod (and of its address). */
  readonly index: number;
  /** Node the pod is bound to. */
  readonly node: string;
  /** SWH selecting it (label `swh=<name>`), if any. */
  readonly swh?: string;
}

/** The whole fleet. */
export interface FleetTopology {
  readonly nodes: readonly string[];
  readonly pods: readonly FleetPod[];
  /** SWH name → indexes of its pods. */
  readonly swhs: ReadonlyMap<string, readonly number[]>;
}

/** Sizes the topology depends on. */
export interface TopologySize {
  readonly nodes: number;
  readonly podsPerNode: number;
  readonly swhs: number;
  readonly podsPerSwh: number;
}

/** Name of node `i`. */
export function fleetNodeName(i: number): string {
  return `fleet-node-${String(i).padStart(3, "0")}`;
}

/** Name of SWH `j`. */
export function fleetSwhName(j: number): string {
  return `svc-${String(j).padStart(4, "0")}`;
}

/** Lays out the fleet (callers check that `swhs × podsPerSwh` pods exist and `podsPerSwh ≤ nodes`). */
export function fleetTopology(size: TopologySize): FleetTopology {
  const nodes = Array.from({ length: size.nodes }, (_, i) => fleetNodeName(i));
  const selected = size.swhs * size.podsPerSwh;
  const pods = Array.from({ length: size.nodes * size.podsPerNode }, (_, index): FleetPod => ({
    name: `pod-${String(index).padStart(5, "0")}`,
    index,
    // Round-robin: pods index, index+1, … sit on consecutive nodes.
    node: nodes[index % size.nodes],
    ...(index < selected ? { swh: fleetSwhName(Math.floor(index / size.podsPerSwh)) } : {}),
  }));
  const swhs = new Map<string, number[]>();
  for (const pod of pods) {
    if (!pod.swh) continue;
    const indexes = swhs.get(pod.swh) ?? [];
    indexes.push(pod.index);
    swhs.set(pod.swh, indexes);
  }
  return { nodes, pods, swhs };
}
