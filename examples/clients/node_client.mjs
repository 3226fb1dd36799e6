#!/usr/bin/env node
// A back end in Node using Tessera's session service (built-in fetch, no packages).
//
//     TESSERA_URL=http://127.0.0.1:7878 TESSERA_KEY=tessera_key_... node node_client.mjs
//
// Signs a user in (ticket before the password check, then the session), resolves the token,
// rotates it, logs out, and checks the session is gone. Exits 0 when every step did what the
// API promises, 1 with a one-line reason otherwise.
const BASE = process.env.TESSERA_URL ?? "http://127.0.0.1:7878";
const KEY = process.env.TESSERA_KEY ?? "";

async function call(path, body) {
  const resp = await fetch(BASE + path, {
    method: "POST",
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return [resp.status, await resp.json()];
}

function expect(cond, what) {
  if (!cond) {
    console.error(`node client: FAILED: ${what}`);
    process.exit(1);
  }
}

// 1. Before checking the password: a ticket (a password change meanwhile refuses it).
let [status, ticket] = await call("/v1/login-tickets", { subject: "bob" });
expect(status === 201, `ticket: ${status} ${JSON.stringify(ticket)}`);
// ... check bob's password here ...
let issued;
[status, issued] = await call("/v1/sessions", { ticket: ticket.ticket, user_agent: "node-example" });
expect(status === 201, `login: ${status} ${JSON.stringify(issued)}`);
// Send issued.set_cookie as the Set-Cookie header; it has the right attributes.
expect(issued.set_cookie.includes("HttpOnly"), "the cookie is HttpOnly");
let token = issued.token;

// 2. On each request: resolve the cookie's token.
let session;
[status, session] = await call("/v1/sessions/resolve", { token });
expect(status === 200 && session.subject === "bob", `resolve: ${status} ${JSON.stringify(session)}`);

// 3. After a privilege change: rotate.
let rotated;
[status, rotated] = await call("/v1/sessions/rotate", { token });
expect(status === 200 && rotated.token !== token, `rotate: ${status}`);
token = rotated.token;

// 4. Logout ends it on the server; the old cookie is worthless.
let out;
[status, out] = await call("/v1/sessions/logout", { token });
expect(status === 200 && out.ended === true, `logout: ${status} ${JSON.stringify(out)}`);
let gone;
[status, gone] = await call("/v1/sessions/resolve", { token });
expect(status === 404 && gone.code === "no-session", `after logout: ${status} ${JSON.stringify(gone)}`);
console.log("node client: ok");
