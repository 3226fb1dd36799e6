// An express + express-session peer app for testing `tessera inspect`, weak or hardened.
//
//   NODE_PATH=<peers>/node/node_modules node express_app.js --port PORT [--hardened]
//       [--idle-timeout SECONDS] [--absolute-timeout SECONDS] [--cert FILE --key FILE] [--quiet]
//
// Listens on 127.0.0.1 only; `--port 0` picks a free port. Once listening it prints one line to
// stdout, `listening on URL (express, MODE)`, and serves until killed.
//
// Routes (same as the Rust fixture): GET/POST /login (username, password, hidden csrf;
// alice / wonderland), GET /account, POST /logout (form on /account), GET/POST /password
// (old_password, new_password), POST /elevate (password; form on /account), GET /public.
//
// WEAK (default), plain HTTP: express-session with its defaults (cookie `connect.sid`, HttpOnly,
// no Secure, no SameSite, no maxAge, MemoryStore, resave and saveUninitialized on); login only
// sets req.session.user (no regenerate), logout only deletes req.session.user, a password change
// leaves other sessions alone, elevation keeps the id, no Cache-Control.
//
// HARDENED (--hardened), HTTPS: express-session marks a `secure` cookie only when it believes the
// request is secure, and over plain http it silently drops it. Rather than fake that (trust proxy
// plus an X-Forwarded-Proto header nobody sends), the hardened app serves real TLS with a
// self-signed certificate for 127.0.0.1, made at startup with the `openssl` command into a
// temporary directory (or taken from --cert/--key); target files say `tls_insecure = true`.
// Then: cookie `__Host-sid; Path=/; Secure; HttpOnly; SameSite=Lax`, regenerate() at login and at
// elevation, destroy() + clearCookie at logout, the user's other sessions destroyed on a
// password change, idle timeout by `rolling: true` + `cookie.maxAge` (the store forgets a
// session once its cookie would have expired; default 5 s), an absolute lifetime (a login stamp
// checked by a middleware; default 12 s), `Cache-Control: no-store` on every
// session page, and Strict-Transport-Security. express-session never adopts an unknown id: ids
// are HMAC-signed with the secret.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const https = require("node:https");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const express = require("express");
const session = require("express-session");

function parseArgs(argv) {
  const a = { port: null, hardened: false, idle: 5, absolute: 12, cert: null, key: null, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${v} needs a value`);
      return argv[++i];
    };
    if (v === "--port") a.port = Number(next());
    else if (v === "--hardened") a.hardened = true;
    else if (v === "--idle-timeout") a.idle = Number(next());
    else if (v === "--absolute-timeout") a.absolute = Number(next());
    else if (v === "--cert") a.cert = next();
    else if (v === "--key") a.key = next();
    else if (v === "--quiet") a.quiet = true;
    else usage(`unknown argument ${v}`);
  }
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) usage("--port PORT is required");
  if (!(a.idle > 0)) usage("--idle-timeout must be positive");
  if (!(a.absolute > 0)) usage("--absolute-timeout must be positive");
  if (!!a.cert !== !!a.key) usage("--cert and --key go together");
  return a;
}

function usage(msg) {
  console.error(`express_app: ${msg}`);
  console.error("usage: node express_app.js --port PORT [--hardened] [--idle-timeout S] [--absolute-timeout S] [--cert F --key F] [--quiet]");
  process.exit(2);
}

/** A throwaway self-signed certificate for 127.0.0.1 and localhost, made with openssl. */
function selfSigned() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-express-"));
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  try {
    execFileSync(
      "openssl",
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", cert, "-days", "7", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
  } catch (e) {
    console.error(`express_app: could not make a self-signed certificate with openssl: ${e.message}`);
    process.exit(1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const USER = "alice";
let password = "wonderland";

const token = () => crypto.randomBytes(32).toString("base64url");

function same(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && x.length > 0 && crypto.timingSafeEqual(x, y);
}

function page(title, body) {
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>\n<body><h1>${title}</h1>\n${body}\n</body></html>\n`;
}

function csrfOf(req) {
  if (!req.session.csrf) req.session.csrf = token();
  return req.session.csrf;
}

const csrfOk = (req) => same(req.body.csrf || "", req.session.csrf || "");

function loginPage(req, error) {
  const err = error ? `<p class="error">${error}</p>\n` : "";
  return page("Sign in", `${err}<form method="post" action="/login">
<input type="hidden" name="csrf" value="${csrfOf(req)}">
<label>Username <input type="text" name="username"></label>
<label>Password <input type="password" name="password"></label>
<button type="submit">Sign in</button>
</form>
<p><a href="/public">Public page</a></p>`);
}

function accountPage(req) {
  const csrf = csrfOf(req);
  const level = req.session.elevated ? "elevated" : "standard";
  return page("Account", `<p>Signed in as <b>${req.session.user}</b> (${level} privileges).</p>
<form method="post" action="/elevate">
<input type="hidden" name="csrf" value="${csrf}">
<label>Confirm password <input type="password" name="password"></label>
<button type="submit">Elevate</button>
</form>
<form method="post" action="/logout">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit">Sign out</button>
</form>
<p><a href="/password">Change password</a> · <a href="/public">Public page</a></p>`);
}

function passwordPage(req, error) {
  const err = error ? `<p class="error">${error}</p>\n` : "";
  return page("Change password", `${err}<form method="post" action="/password">
<input type="hidden" name="csrf" value="${csrfOf(req)}">
<label>Current password <input type="password" name="old_password"></label>
<label>New password <input type="password" name="new_password"></label>
<button type="submit">Change</button>
</form>
<p><a href="/account">Back</a></p>`);
}

function buildApp(opts) {
  const app = express();
  app.disable("x-powered-by");
  const store = new session.MemoryStore();
  const secret = token();
  const COOKIE = opts.hardened ? "__Host-sid" : "connect.sid";
  const cookieOpts = { path: "/", secure: true, httpOnly: true, sameSite: "lax" };

  if (opts.hardened) {
    app.use(
      session({
        name: COOKIE,
        secret,
        store,
        resave: false,
        saveUninitialized: false,
        rolling: true,
        cookie: { ...cookieOpts, maxAge: opts.idle * 1000 },
      }),
    );
  } else {
    // express-session's defaults, spelled out only to silence its deprecation warnings about
    // leaving resave/saveUninitialized unset (true is what it uses then).
    app.use(session({ secret, store, resave: true, saveUninitialized: true }));
  }
  // express-session has no absolute lifetime: rolling renews the cookie on every request. The
  // hardened app stamps the session at login (kept across rotations) and starts a fresh one
  // once that stamp is older than the lifetime.
  app.use((req, res, next) => {
    const born = opts.hardened && req.session && req.session.createdAt;
    if (!born || Date.now() - born <= opts.absolute * 1000) return next();
    req.session.regenerate(next);
  });
  app.use(express.urlencoded({ extended: false }));
  app.use((req, res, next) => {
    if (!req.body) req.body = {}; // Express 5 leaves it undefined without a form body
    next();
  });
  app.use((req, res, next) => {
    if (opts.hardened && req.path !== "/public") {
      res.set("Cache-Control", "no-store");
      res.set("Strict-Transport-Security", "max-age=31536000");
    }
    if (!opts.quiet) {
      res.on("finish", () => console.error(`${req.method} ${req.originalUrl} ${res.statusCode}`));
    }
    next();
  });

  // regenerate() keeps nothing; carry over what the new session should have.
  const rotate = (req, keep, then) => {
    if (!opts.hardened) return then();
    req.session.regenerate((err) => {
      if (err) return then(err);
      Object.assign(req.session, keep);
      then();
    });
  };
  const signedIn = (req) => req.session && req.session.user === USER;

  app.get("/", (req, res) => res.redirect(303, "/account"));
  app.get("/public", (req, res) => res.send(page("Public", "<p>Anyone may read this page.</p>")));

  app.get("/login", (req, res) => res.send(loginPage(req)));

  app.post("/login", (req, res, next) => {
    if (!csrfOk(req)) return res.status(403).send(loginPage(req, "The form expired; please try again."));
    if (!(req.body.username === USER && same(req.body.password || "", password))) {
      return res.status(401).send(loginPage(req, "Wrong username or password."));
    }
    rotate(req, {}, (err) => {
      if (err) return next(err);
      req.session.user = USER;
      req.session.createdAt = Date.now();
      req.session.elevated = false;
      req.session.csrf = token();
      req.session.save((err2) => (err2 ? next(err2) : res.redirect(303, "/account")));
    });
  });

  app.get("/account", (req, res) => {
    if (!signedIn(req)) return res.redirect(303, "/login");
    res.send(accountPage(req));
  });

  app.post("/logout", (req, res, next) => {
    if (signedIn(req) && !csrfOk(req)) return res.status(403).send(page("Forbidden", "<p>Bad CSRF token.</p>"));
    if (!opts.hardened) {
      delete req.session.user; // the session, its id and its cookie all live on
      return res.redirect(303, "/login");
    }
    req.session.destroy((err) => {
      if (err) return next(err);
      res.clearCookie(COOKIE, cookieOpts);
      res.redirect(303, "/login");
    });
  });

  app.get("/password", (req, res) => {
    if (!signedIn(req)) return res.redirect(303, "/login");
    res.send(passwordPage(req));
  });

  app.post("/password", (req, res, next) => {
    if (!signedIn(req)) return res.redirect(303, "/login");
    if (!csrfOk(req)) return res.status(403).send(passwordPage(req, "Bad CSRF token."));
    const newPassword = req.body.new_password || "";
    if (!same(req.body.old_password || "", password) || !newPassword) {
      return res.status(403).send(passwordPage(req, "Wrong current password, or empty new password."));
    }
    password = newPassword;
    if (!opts.hardened) return res.redirect(303, "/account");
    store.all((err, sessions) => {
      if (err) return next(err);
      for (const [sid, s] of Object.entries(sessions || {})) {
        if (sid !== req.sessionID && s && s.user === req.session.user) store.destroy(sid, () => {});
      }
      res.redirect(303, "/account");
    });
  });

  app.post("/elevate", (req, res, next) => {
    if (!signedIn(req)) return res.redirect(303, "/login");
    if (!csrfOk(req)) return res.status(403).send(page("Forbidden", "<p>Bad CSRF token.</p>"));
    if (!same(req.body.password || "", password)) return res.status(403).send(page("Forbidden", "<p>Wrong password.</p>"));
    rotate(req, { user: req.session.user, createdAt: req.session.createdAt }, (err) => {
      if (err) return next(err);
      req.session.elevated = true;
      req.session.csrf = token();
      req.session.save((err2) => (err2 ? next(err2) : res.redirect(303, "/account")));
    });
  });

  return app;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const app = buildApp(opts);
  let server;
  let scheme;
  if (opts.hardened) {
    const tls = opts.cert ? { cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) } : selfSigned();
    server = https.createServer(tls, app);
    scheme = "https";
  } else {
    server = http.createServer(app);
    scheme = "http";
  }
  server.on("error", (e) => {
    console.error(`express_app: ${e.message}`);
    process.exit(1);
  });
  server.listen(opts.port, "127.0.0.1", () => {
    const { port } = server.address();
    console.log(`listening on ${scheme}://127.0.0.1:${port} (express, ${opts.hardened ? "hardened" : "weak"})`);
  });
  for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
}

main();
