#!/usr/bin/env bash
# Makes sure the tools the `tessera serve` tests drive are installed:
#   - nginx (Debian's nginx-light), for the forward-auth test behind a real reverse proxy;
#   - schemathesis (PyPI, in a venv), for the schema-driven test of the API.
# Idempotent. The nginx package is installed with service starts disabled (policy-rc.d), so
# nothing is left listening on port 80; the tests start their own nginx on a loopback port.
# Prints shell assignments on its last lines (for `eval`); on failure exits non-zero with a
# one-line reason.
set -euo pipefail

DIR="${TESSERA_TOOLS_DIR:-${HOME:-/root}/.cache/tessera/tools}"
VENV="$DIR/schemathesis-venv"
SCHEMATHESIS_VERSION="4.32.5"

fail() {
    echo "ensure-serve-tools: FAILED: $*" >&2
    exit 1
}
say() { echo "ensure-serve-tools: $*" >&2; }

find_nginx() { command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true; }

NGINX="$(find_nginx)"
if [[ -z "$NGINX" ]]; then
    SUDO=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || fail "nginx is missing and installing it needs root or sudo"
        SUDO=(sudo -n)
    fi
    say "installing nginx-light (Debian)"
    POLICY=/usr/sbin/policy-rc.d
    placed=0
    if [[ ! -e "$POLICY" ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
        "${SUDO[@]}" chmod 755 "$POLICY"
        placed=1
    fi
    "${SUDO[@]}" apt-get update -qq >/dev/null || { (( placed )) && "${SUDO[@]}" rm -f "$POLICY"; fail "apt-get update failed"; }
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq nginx-light >/dev/null ||
        { (( placed )) && "${SUDO[@]}" rm -f "$POLICY"; fail "apt-get install nginx-light failed"; }
    (( placed )) && "${SUDO[@]}" rm -f "$POLICY"
    NGINX="$(find_nginx)"
    [[ -n "$NGINX" ]] || fail "nginx still not found after installing nginx-light"
fi
say "nginx: $("$NGINX" -v 2>&1)"

STAMP="$VENV/.version"
if [[ ! -x "$VENV/bin/schemathesis" || "$(cat "$STAMP" 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]]; then
    command -v python3 >/dev/null 2>&1 || fail "python3 not found (needed for schemathesis)"
    say "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    rm -rf "$VENV"
    mkdir -p "$DIR"
    python3 -m venv "$VENV" || fail "python3 -m venv failed"
    "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" >/dev/null || fail "pip install schemathesis failed"
    echo "$SCHEMATHESIS_VERSION" >"$STAMP"
fi
say "schemathesis: $("$VENV/bin/schemathesis" --version)"

echo "TESSERA_NGINX=$NGINX"
echo "TESSERA_SCHEMATHESIS=$VENV/bin/schemathesis"
