import { deepStrictEqual } from "node:assert/strict";
import { specAcceptance } from "./spec_acceptance.ts";

Deno.test("specAcceptance: the noted generation is taken as stored; others wait for the controller", () => {
  const note = { uid: "u1", generation: 3 };
  deepStrictEqual(specAcceptance("u1", 3, note, false), "accepted");
  deepStrictEqual(specAcceptance("u1", 3, note, true), "accepted");
  // Newer than the controller accepted (it lags, or refuses it), or an older read: keep the accepted spec.
  deepStrictEqual(specAcceptance("u1", 4, note, true), "keep");
  deepStrictEqual(specAcceptance("u1", 2, note, true), "keep");
  // Nothing held (a restart): the agent validates, as it did before notes existed.
  deepStrictEqual(specAcceptance("u1", 4, note, false), "validate");
  // No usable note, or one about another object of the same name: validate.
  deepStrictEqual(specAcceptance("u1", 3, { uid: "u1" }, true), "validate");
  deepStrictEqual(specAcceptance("u1", 3, undefined, true), "validate");
  deepStrictEqual(specAcceptance("u2", 3, note, true), "validate");
  deepStrictEqual(specAcceptance(undefined, 3, note, true), "validate");
  // Stored without defaults of the schema (an older CRD): validation applies them.
  deepStrictEqual(specAcceptance("u1", 3, { ...note, defaultsMissing: true }, true), "validate");
});
