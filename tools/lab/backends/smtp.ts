/**
 * Lab backend: a minimal SMTP responder (RFC 5321 greeting, EHLO/HELO/NOOP/QUIT) on env PORT, naming the
 * pod (env POD_NAME) in its banner so a client can tell which endpoint it reached.
 */
const name = Deno.env.get("POD_NAME") ?? "backend";
const port = Number(Deno.env.get("PORT") ?? "2525");
const encoder = new TextEncoder();

async function session(conn: Deno.Conn): Promise<void> {
  const reply = (line: string) => conn.write(encoder.encode(`${line}\r\n`));
  await reply(`220 ${name} ESMTP lab`);
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of conn.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    if (buffered.length > 4096) return conn.close();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const command = buffered.slice(0, newline).trim().toUpperCase();
      buffered = buffered.slice(newline + 1);
      if (command.startsWith("EHLO") || command.startsWith("HELO")) await reply(`250 ${name}`);
      else if (command === "NOOP") await reply("250 OK");
      else if (command === "QUIT") {
        await reply("221 bye");
        return conn.close();
      } else await reply("502 command not implemented");
    }
  }
}

const listener = Deno.listen({ hostname: "0.0.0.0", port });
console.log(`smtp backend ${name} on :${port}`);
for await (const conn of listener) session(conn).catch(() => conn.close());
