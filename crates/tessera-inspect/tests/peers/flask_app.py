"""A Flask peer app for testing `tessera inspect`, in a weak or a hardened configuration.

    python flask_app.py --port PORT [--hardened] [--idle-timeout SECONDS]
        [--absolute-timeout SECONDS] [--quiet]

Listens on 127.0.0.1 only (plain HTTP). `--port 0` picks a free port. Once listening it prints
one line to stdout, `listening on http://127.0.0.1:PORT`, and serves until killed.

Routes (same as the Rust fixture): GET/POST /login (username, password, hidden csrf;
alice / wonderland), GET /account, POST /logout (form on /account), GET/POST /password
(old_password, new_password), POST /elevate (password; form on /account), GET /public.

WEAK (default): Flask's stock session, a client-side cookie signed with itsdangerous
(`session`, HttpOnly, no Secure, no SameSite). The cookie *is* the session data, so logout
can only ask the browser to forget it: a copy taken earlier still works, as it does after a
password change, and it never expires server-side. No Cache-Control headers.

HARDENED (--hardened): a small server-side session store plugged in as Flask's
`session_interface`: a 256-bit random id (secrets.token_urlsafe) in `__Host-sid; Secure;
HttpOnly; SameSite=Lax; Path=/`, a new id at login and at elevation, the record deleted at
logout (and the cookie cleared), the user's other sessions ended on a password change, an
idle timeout (default 5 s), an absolute lifetime counted from the session's first request and
kept across rotations (default 12 s), unknown ids never adopted, and `Cache-Control: no-store` on every
session-dependent page. Pure Flask + standard library.
"""

import argparse
import hmac
import secrets
import sys
import threading
import time

from flask import Flask, abort, make_response, redirect, request, session
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict
from werkzeug.serving import make_server

USER = "alice"
STATE = {"password": "wonderland"}
STATE_LOCK = threading.Lock()

# ------------------------------------------------------------------------------------------
# Hardened: server-side sessions


class ServerSession(CallbackDict, SessionMixin):
    """A session whose data lives on the server; the cookie carries only `sid`."""

    def __init__(self, initial=None, sid=None):
        def on_update(s):
            s.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.new = sid is None
        self.modified = False
        self.rotate = False
        self.destroyed = False

    def regenerate(self):
        """Asks for a new id at the end of this request; the old one stops working."""
        self.rotate = True
        self.modified = True

    def destroy(self):
        """Deletes the session on the server and clears the browser's cookie."""
        self.clear()
        self.destroyed = True


class ServerSessionInterface(SessionInterface):
    cookie_name = "__Host-sid"

    def __init__(self, idle_timeout, absolute_timeout):
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.lock = threading.Lock()
        self.store = {}  # sid -> {"data": dict, "created": float, "last_seen": float}

    def _cookie_kwargs(self):
        return {"path": "/", "secure": True, "httponly": True, "samesite": "Lax"}

    def open_session(self, app, request):
        sid = request.cookies.get(self.cookie_name)
        now = time.monotonic()
        with self.lock:
            rec = self.store.get(sid) if sid else None
            if rec is not None and (
                now - rec["last_seen"] > self.idle_timeout
                or now - rec["created"] > self.absolute_timeout  # kept across rotations
            ):
                del self.store[sid]
                rec = None
            if rec is None:
                # Unknown or expired: never adopt the client's id.
                return ServerSession()
            rec["last_seen"] = now
            return ServerSession(dict(rec["data"]), sid)

    def save_session(self, app, sess, response):
        now = time.monotonic()
        with self.lock:
            if sess.destroyed:
                if sess.sid:
                    self.store.pop(sess.sid, None)
                response.delete_cookie(self.cookie_name, **self._cookie_kwargs())
                return
            if sess.sid is None and not sess:
                return  # nothing worth a session
            if sess.rotate and sess.sid:
                old = self.store.pop(sess.sid, None)
                created = old["created"] if old else now
                sess.sid = None
            else:
                created = None
            if sess.sid is None:
                sid = secrets.token_urlsafe(32)
                self.store[sid] = {"data": dict(sess), "created": created or now, "last_seen": now}
                response.set_cookie(self.cookie_name, sid, **self._cookie_kwargs())
                sess.sid = sid
            elif sess.modified:
                rec = self.store.get(sess.sid)
                if rec is not None:
                    rec["data"] = dict(sess)

    def end_other_sessions(self, user, keep_sid):
        with self.lock:
            for sid in [s for s, r in self.store.items() if r["data"].get("user") == user and s != keep_sid]:
                del self.store[sid]


# ------------------------------------------------------------------------------------------
# The app


def page(title, body):
    return (
        f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n"
        f"<body><h1>{title}</h1>\n{body}\n</body></html>\n"
    )


def csrf_token():
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_ok():
    sent = request.form.get("csrf", "")
    want = session.get("csrf", "")
    return bool(sent) and bool(want) and hmac.compare_digest(sent, want)


def login_page(error=None):
    err = f'<p class="error">{error}</p>\n' if error else ""
    return page(
        "Sign in",
        f"""{err}<form method="post" action="/login">
<input type="hidden" name="csrf" value="{csrf_token()}">
<label>Username <input type="text" name="username"></label>
<label>Password <input type="password" name="password"></label>
<button type="submit">Sign in</button>
</form>
<p><a href="/public">Public page</a></p>""",
    )


def account_page():
    level = "elevated" if session.get("elevated") else "standard"
    csrf = csrf_token()
    return page(
        "Account",
        f"""<p>Signed in as <b>{session['user']}</b> ({level} privileges).</p>
<form method="post" action="/elevate">
<input type="hidden" name="csrf" value="{csrf}">
<label>Confirm password <input type="password" name="password"></label>
<button type="submit">Elevate</button>
</form>
<form method="post" action="/logout">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit">Sign out</button>
</form>
<p><a href="/password">Change password</a> · <a href="/public">Public page</a></p>""",
    )


def password_page(error=None):
    err = f'<p class="error">{error}</p>\n' if error else ""
    return page(
        "Change password",
        f"""{err}<form method="post" action="/password">
<input type="hidden" name="csrf" value="{csrf_token()}">
<label>Current password <input type="password" name="old_password"></label>
<label>New password <input type="password" name="new_password"></label>
<button type="submit">Change</button>
</form>
<p><a href="/account">Back</a></p>""",
    )


def create_app(hardened, idle_timeout, absolute_timeout):
    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)
    store = None
    if hardened:
        store = ServerSessionInterface(idle_timeout, absolute_timeout)
        app.session_interface = store

    def regenerate():
        if hardened:
            session.regenerate()

    @app.after_request
    def no_store(resp):
        if hardened and request.path != "/public":
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/")
    def root():
        return redirect("/account", 303)

    @app.get("/public")
    def public():
        return page("Public", "<p>Anyone may read this page.</p>")

    @app.get("/login")
    def login_form():
        return login_page()

    @app.post("/login")
    def login():
        if not csrf_ok():
            return login_page("The form expired; please try again."), 403
        with STATE_LOCK:
            good = request.form.get("username") == USER and hmac.compare_digest(
                request.form.get("password", ""), STATE["password"]
            )
        if not good:
            return login_page("Wrong username or password."), 401
        regenerate()
        session["user"] = USER
        session["elevated"] = False
        session["csrf"] = secrets.token_urlsafe(32)
        return redirect("/account", 303)

    @app.get("/account")
    def account():
        if "user" not in session:
            return redirect("/login", 303)
        return account_page()

    @app.post("/logout")
    def logout():
        if "user" in session and not csrf_ok():
            abort(403)
        if hardened:
            session.destroy()
        else:
            session.clear()  # Flask then deletes the cookie; copies of it stay valid
        return redirect("/login", 303)

    @app.get("/password")
    def password_form():
        if "user" not in session:
            return redirect("/login", 303)
        return password_page()

    @app.post("/password")
    def change_password():
        if "user" not in session:
            return redirect("/login", 303)
        if not csrf_ok():
            return password_page("Bad CSRF token."), 403
        old, new = request.form.get("old_password", ""), request.form.get("new_password", "")
        with STATE_LOCK:
            if not (hmac.compare_digest(old, STATE["password"]) and new):
                return password_page("Wrong current password, or empty new password."), 403
            STATE["password"] = new
        if hardened:
            store.end_other_sessions(session["user"], session.sid)
        return redirect("/account", 303)

    @app.post("/elevate")
    def elevate():
        if "user" not in session:
            return redirect("/login", 303)
        if not csrf_ok():
            abort(403)
        with STATE_LOCK:
            good = hmac.compare_digest(request.form.get("password", ""), STATE["password"])
        if not good:
            abort(403)
        regenerate()
        session["elevated"] = True
        session["csrf"] = secrets.token_urlsafe(32)
        return redirect("/account", 303)

    return app


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--hardened", action="store_true", help="server-side sessions done properly")
    p.add_argument("--idle-timeout", type=float, default=5.0, help="hardened idle timeout, seconds (default 5)")
    p.add_argument("--absolute-timeout", type=float, default=12.0, help="hardened absolute session lifetime, seconds (default 12)")
    p.add_argument("--quiet", action="store_true", help="no request log")
    args = p.parse_args()
    if args.quiet:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = create_app(args.hardened, args.idle_timeout, args.absolute_timeout)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    mode = "hardened" if args.hardened else "weak"
    print(f"listening on http://127.0.0.1:{server.server_port} (flask, {mode})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
