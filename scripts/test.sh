#!/usr/bin/env bash
# The one test command (README): installs what the tests need when it is missing, then runs
# formatting, lints and every test of the default workspace members.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "browser for the end-to-end tests"
bash scripts/ensure-browser.sh

step "peer apps for the inspector tests (Flask, express-session)"
bash scripts/ensure-peers.sh

step "nginx and schemathesis for the serve tests"
eval "$(bash scripts/ensure-serve-tools.sh)"
export TESSERA_NGINX TESSERA_SCHEMATHESIS

step "servers for the fleet-store tests (Redis, a Redis Cluster)"
source scripts/services.sh
trap stop_services EXIT
start_services

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --locked --all-targets -- -D warnings

step "cargo doc (warnings are errors: broken intra-doc links fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps

step "cargo test"
cargo test --locked

step "instruction counts of the hot paths against bench/instructions.json (fails on +10 %)"
bash scripts/instructions.sh
