/** Lab backend: an HTTP server answering `/healthz` and `/` with the pod's name (env POD_NAME, PORT). */
const name = Deno.env.get("POD_NAME") ?? "backend";
const port = Number(Deno.env.get("PORT") ?? "8080");
Deno.serve(
  { hostname: "0.0.0.0", port, onListen: () => console.log(`http backend ${name} on :${port}`) },
  (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/healthz") return new Response("ok\n");
    return new Response(`hello from ${name}\n`);
  },
);
