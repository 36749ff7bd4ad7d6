/** Credentials of PostgreSQL probes mirrored into the operator namespace: created, updated, deleted, reported. */
import { guideSecretCommand } from "../../tools/lab/guide.ts";
import { deepStrictEqual, ok } from "node:assert";
import { waitFor } from "../support/wait.ts";
import { kubectlOk } from "../support/kubectl.ts";
import { Api, Secrets } from "../../kube/mod.ts";
import {
  MIRRORED_SECRET_LABEL,
  MIRRORED_SECRET_SOURCE_ANNOTATION,
  mirroredSecretName,
} from "../../crds/conventions.ts";
import { applySwh, eventsAbout, swhBody, waitForCondition, withController } from "./helpers.ts";

const pgProbe = (secret: string) => ({
  probes: [{
    mode: "PostgreSQL",
    postgreSQL: { targetPort: 5432, authSecretName: secret, query: "SELECT 1" },
  }],
});

Deno.test("credentials are mirrored (only needed keys), updated, deleted when unreferenced; problems reported", async () => {
  await withController("creds", async ({ transport, ns, opNs, swhs, controller }) => {
    const mirrors = Api.namespaced(transport, Secrets, opNs);
    const mirror = mirroredSecretName(ns, "cred-secret");

    // Missing Secret → Credentials=False with reason, and an Event.
    await applySwh(swhs, swhBody("postgres-read", { healthcheck: pgProbe("cred-secret") }));
    const missing = await waitForCondition(
      swhs,
      "postgres-read",
      "Credentials",
      (c) => c.reason === "SecretNotFound",
    );
    ok(missing.status?.conditions?.find((c) => c.type === "Credentials")?.message.includes("cred-secret"));
    await waitFor(
      async () => (await eventsAbout(ns, "postgres-read")).some((l) => l.startsWith("SecretNotFound:")),
      {
        what: "SecretNotFound event",
      },
    );

    // The user guide's Secret, exactly as the guide creates it (plus a key that must not be copied).
    await kubectlOk(guideSecretCommand(ns, ["--from-literal=unrelated=do-not-copy"]));
    const copy = await waitFor(() => mirrors.getOpt(mirror), { what: "mirrored Secret" });
    deepStrictEqual(copy.data, { user: btoa("postgres"), password: btoa("example") });
    deepStrictEqual(copy.metadata?.labels?.[MIRRORED_SECRET_LABEL], "true");
    deepStrictEqual(copy.metadata?.annotations?.[MIRRORED_SECRET_SOURCE_ANNOTATION], `${ns}/cred-secret`);
    await waitForCondition(swhs, "postgres-read", "Credentials", (c) => c.status === "True");

    // A second SWH sharing the Secret; then the password changes → the copy follows.
    await applySwh(swhs, swhBody("postgres-write", { healthcheck: pgProbe("cred-secret") }));
    await kubectlOk([
      "-n",
      ns,
      "patch",
      "secret",
      "cred-secret",
      "--type=merge",
      "-p",
      JSON.stringify({ data: { password: btoa("changed") } }),
    ]);
    await waitFor(async () => (await mirrors.get(mirror)).data?.password === btoa("changed"), {
      what: "mirrored password updated",
    });

    // Still referenced by one SWH: kept; referenced by none: deleted.
    await swhs.delete("postgres-read");
    await controller.idle();
    ok(await mirrors.getOpt(mirror), "copy deleted while postgres-write still uses it");
    await swhs.delete("postgres-write");
    await waitFor(async () => (await mirrors.getOpt(mirror)) === undefined, { what: "copy deleted" });

    // A Secret without password → SecretKeyMissing, no copy.
    await kubectlOk(["-n", ns, "create", "secret", "generic", "half", "--from-literal=user=postgres"]);
    await applySwh(swhs, swhBody("half", { healthcheck: pgProbe("half") }));
    const half = await waitForCondition(swhs, "half", "Credentials", (c) => c.reason === "SecretKeyMissing");
    ok(half.status?.conditions?.find((c) => c.type === "Credentials")?.message.includes('"password"'));
    await controller.idle();
    deepStrictEqual(await mirrors.getOpt(mirroredSecretName(ns, "half")), undefined);
    const before = controller.writes(ns) + controller.writes(opNs);
    controller.resync();
    await controller.idle();
    deepStrictEqual((controller.writes(ns) + controller.writes(opNs)) - before, 0);
  });
});
