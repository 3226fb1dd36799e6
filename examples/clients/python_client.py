#!/usr/bin/env python3
"""A back end in Python using Tessera's session service (standard library only).

    TESSERA_URL=http://127.0.0.1:7878 TESSERA_KEY=tessera_key_... python3 python_client.py

Signs a user in (ticket before the password check, then the session), resolves the token,
rotates it, logs out, and checks the session is gone. Exits 0 when every step did what the
API promises, 1 with a one-line reason otherwise.
"""
import json
import os
import sys
import urllib.error
import urllib.request

BASE = os.environ.get("TESSERA_URL", "http://127.0.0.1:7878")
KEY = os.environ.get("TESSERA_KEY", "")


def call(path, body):
    """POSTs JSON with the API key; returns (status, parsed body)."""
    req = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:  # 4xx/5xx: a problem document
        return e.code, json.load(e)


def expect(cond, what):
    if not cond:
        print("python client: FAILED: " + what, file=sys.stderr)
        sys.exit(1)


def main():
    # 1. Before checking the password: a ticket (a password change meanwhile refuses it).
    status, ticket = call("/v1/login-tickets", {"subject": "alice"})
    expect(status == 201, f"ticket: {status} {ticket}")
    # ... check alice's password here ...
    status, issued = call(
        "/v1/sessions",
        {"ticket": ticket["ticket"], "user_agent": "python-example", "ip": "192.0.2.10"},
    )
    expect(status == 201, f"login: {status} {issued}")
    # Send issued["set_cookie"] as the Set-Cookie header; it has the right attributes.
    expect("HttpOnly" in issued["set_cookie"], "the cookie is HttpOnly")
    token = issued["token"]

    # 2. On each request: resolve the cookie's token.
    status, session = call("/v1/sessions/resolve", {"token": token})
    expect(status == 200 and session["subject"] == "alice", f"resolve: {status} {session}")

    # 3. After a privilege change: rotate.
    status, rotated = call("/v1/sessions/rotate", {"token": token})
    expect(status == 200 and rotated["token"] != token, f"rotate: {status} {rotated}")
    token = rotated["token"]

    # 4. Logout ends it on the server; the old cookie is worthless.
    status, out = call("/v1/sessions/logout", {"token": token})
    expect(status == 200 and out["ended"] is True, f"logout: {status} {out}")
    status, gone = call("/v1/sessions/resolve", {"token": token})
    expect(status == 404 and gone["code"] == "no-session", f"after logout: {status} {gone}")
    print("python client: ok")


if __name__ == "__main__":
    main()
