#!/usr/bin/env bash
# Makes sure Debian's headless Chromium and its chromedriver are installed, for the
# real-browser end-to-end test (crates/tessera/tests/browser.rs).
#
# Idempotent: if /usr/bin/chromium and /usr/bin/chromedriver both exist it only says so.
# Otherwise it runs `apt-get update` and installs the Debian packages `chromium` and
# `chromium-driver` (needs root, or sudo without a password). Prints what it did; on failure
# it exits non-zero with a one-line reason.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

fail() {
    echo "ensure-browser: FAILED: $*" >&2
    exit 1
}

have_both() {
    [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]]
}

if have_both; then
    echo "ensure-browser: $CHROMIUM and $CHROMEDRIVER already present, nothing to do"
    "$CHROMIUM" --version 2>/dev/null || true
    "$CHROMEDRIVER" --version 2>/dev/null || true
    exit 0
fi

missing=()
[[ -x "$CHROMIUM" ]] || missing+=("$CHROMIUM")
[[ -x "$CHROMEDRIVER" ]] || missing+=("$CHROMEDRIVER")
echo "ensure-browser: missing ${missing[*]}; installing Debian packages chromium chromium-driver"

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found (not a Debian-like system); install chromium and chromedriver by hand"

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        fail "not root and no passwordless sudo; run as root: apt-get install chromium chromium-driver"
    fi
fi

echo "ensure-browser: running apt-get update"
"${SUDO[@]}" apt-get update -q || fail "apt-get update failed"

echo "ensure-browser: running apt-get install -y chromium chromium-driver"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    chromium chromium-driver || fail "apt-get install chromium chromium-driver failed"

have_both || fail "packages installed but $CHROMIUM or $CHROMEDRIVER is still missing"

echo "ensure-browser: installed:"
"$CHROMIUM" --version 2>/dev/null || echo "  (chromium --version failed)"
"$CHROMEDRIVER" --version 2>/dev/null || echo "  (chromedriver --version failed)"
echo "ensure-browser: done"
