#!/usr/bin/env bash
# Makes sure the peer apps that `tessera inspect` is tested against can run: a Python venv with
# Flask, and an npm project with express + express-session, at the versions pinned in
# crates/tessera-inspect/tests/peers/{requirements.txt,package.json,package-lock.json}.
#
# Everything goes under ${TESSERA_PEERS_DIR:-$HOME/.cache/tessera/peers}:
#   venv/          Python venv (venv/bin/python runs flask_app.py)
#   node/          npm project; node/node_modules is what express_app.js needs (NODE_PATH)
# Idempotent: each part is rebuilt only when its pinned inputs changed (a stamp file holds their
# sha256) or it is missing. Also checks for `openssl`, which the hardened express app uses to
# make its self-signed certificate at startup.
#
# Prints where things are (as shell assignments on the last lines, for `eval`); on failure it
# exits non-zero with a one-line reason.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEERS_SRC="$ROOT/crates/tessera-inspect/tests/peers"
DIR="${TESSERA_PEERS_DIR:-${HOME:-/root}/.cache/tessera/peers}"
VENV="$DIR/venv"
NODE_DIR="$DIR/node"

fail() {
    echo "ensure-peers: FAILED: $*" >&2
    exit 1
}

say() { echo "ensure-peers: $*"; }

sha_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

for f in requirements.txt package.json package-lock.json flask_app.py express_app.js; do
    [[ -f "$PEERS_SRC/$f" ]] || fail "missing $PEERS_SRC/$f"
done

command -v python3 >/dev/null 2>&1 || fail "python3 not found (needed for the Flask peer)"
command -v node >/dev/null 2>&1 || fail "node not found (needed for the express peer)"
command -v npm >/dev/null 2>&1 || fail "npm not found (needed for the express peer)"
command -v openssl >/dev/null 2>&1 || fail "openssl not found (the hardened express peer makes its self-signed certificate with it)"

mkdir -p "$DIR" 2>/dev/null || fail "cannot create $DIR"

# --- Python venv with Flask -------------------------------------------------------------------
py_want="$(sha_of "$PEERS_SRC/requirements.txt")"
py_stamp="$VENV/.tessera-stamp"
if [[ -x "$VENV/bin/python" && -f "$py_stamp" && "$(cat "$py_stamp")" == "$py_want" ]] \
    && "$VENV/bin/python" -c 'import flask' >/dev/null 2>&1; then
    say "venv up to date: $VENV"
else
    say "creating venv $VENV and installing $PEERS_SRC/requirements.txt"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || fail "python3 -m venv $VENV failed (on Debian: apt-get install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$PEERS_SRC/requirements.txt" || fail "pip install -r requirements.txt into $VENV failed"
    "$VENV/bin/python" -c 'import flask' || fail "flask does not import in $VENV after install"
    echo "$py_want" >"$py_stamp"
fi

# --- npm project with express + express-session -----------------------------------------------
js_want="$(sha_of "$PEERS_SRC/package.json" "$PEERS_SRC/package-lock.json")"
js_stamp="$NODE_DIR/.tessera-stamp"
if [[ -d "$NODE_DIR/node_modules/express" && -d "$NODE_DIR/node_modules/express-session" \
    && -f "$js_stamp" && "$(cat "$js_stamp")" == "$js_want" ]]; then
    say "npm project up to date: $NODE_DIR"
else
    say "installing express + express-session into $NODE_DIR (npm ci)"
    mkdir -p "$NODE_DIR"
    cp "$PEERS_SRC/package.json" "$PEERS_SRC/package-lock.json" "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) \
        || fail "npm ci in $NODE_DIR failed"
    echo "$js_want" >"$js_stamp"
fi

(cd "$NODE_DIR" && node -e 'require("express"); require("express-session")') \
    || fail "express or express-session does not load from $NODE_DIR/node_modules"

say "flask $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("flask"))'), express $(node -p "require('$NODE_DIR/node_modules/express/package.json').version"), express-session $(node -p "require('$NODE_DIR/node_modules/express-session/package.json').version")"
say "ready. Start the peers with:"
say "  $VENV/bin/python $PEERS_SRC/flask_app.py --port PORT [--hardened]"
say "  NODE_PATH=$NODE_DIR/node_modules node $PEERS_SRC/express_app.js --port PORT [--hardened]"
echo "PEERS_DIR=$DIR"
echo "PEERS_PYTHON=$VENV/bin/python"
echo "PEERS_NODE_PATH=$NODE_DIR/node_modules"
