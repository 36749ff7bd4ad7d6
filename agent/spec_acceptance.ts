/**
 * Which spec of an SWH the agent serves by: the generation the controller accepted, taken as stored.
 *
 * The controller validates every SWH with the schema the CRD is generated from and applies its Service — noting
 * the SWH's generation on it — only for a valid spec. A stored object at the noted generation is therefore one
 * the programs can use, with every default applied by the apiserver exactly as the schema's parse would
 * (tests/crds/admission_test.ts), so the agent takes it as it is and never loads the validator (zod and the
 * schema: ~10 MiB resident, bench/memory.ts `modules`). The agent then also moves to a new spec together with
 * the Service's ports, not before the controller has applied them.
 *
 * @module
 */
import type { ServiceNote } from "./caches.ts";

/**
 * How to take a stored SWH:
 * - `accepted`: the controller noted this generation of this object on its Service: use it as stored;
 * - `keep`: a newer (or older) generation than the controller accepted, while the agent holds an accepted spec
 *   of the same object: keep serving by that until the controller notes this one — or never, if it refuses it;
 * - `validate`: no note to go by (an older controller, a garbled note, a Service that names another uid),
 *   nothing held (an agent started while the controller lags or refuses the newest spec), or a stored spec the
 *   controller found without defaults of the schema (an older CRD): validate here, which applies them.
 */
export type SpecAcceptance = "accepted" | "keep" | "validate";

/**
 * Decides {@link SpecAcceptance} for a stored SWH of `uid` at `generation`, given `note` (what its Service says,
 * agent/caches.ts `serviceNote`) and whether the agent `holds` an accepted spec of that same uid.
 */
export function specAcceptance(
  uid: string | undefined,
  generation: number | undefined,
  note: ServiceNote | undefined,
  holds: boolean,
): SpecAcceptance {
  if (note?.generation === undefined || uid === undefined || note.uid !== uid) return "validate";
  if (note.defaultsMissing) return "validate";
  if (generation === note.generation) return "accepted";
  return holds ? "keep" : "validate";
}
