#!/usr/bin/env bash
# Instruction counts of the hot paths (crates/tessera/benches/instructions.rs, under Valgrind's
# Callgrind via gungraun) against the committed baseline bench/instructions.json: a count more
# than 10 % above its baseline fails (exit 1). Instruction counts do not drift with machine
# load, so this can gate CI where wall-clock numbers cannot.
#
#   scripts/instructions.sh            check against the baseline
#   scripts/instructions.sh --update   rewrite the baseline after a deliberate change (commit it,
#                                      and say in the commit why the counts moved)
#
# Installs what it needs when missing: valgrind (Debian package) and gungraun-runner at the
# version Cargo.lock pins for the gungraun library (into ~/.cache/tessera/tools).
set -euo pipefail
cd "$(dirname "$0")/.."

THRESHOLD_PERCENT=10
BASELINE=bench/instructions.json
update=false
[[ "${1:-}" == "--update" ]] && update=true

if ! command -v valgrind >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind
fi
version=$(awk '/^name = "gungraun-runner"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[[ -n "$version" ]] || { echo "instructions.sh: no gungraun-runner in Cargo.lock" >&2; exit 2; }
tools="${TESSERA_TOOLS_DIR:-$HOME/.cache/tessera/tools}/gungraun-$version"
runner="$tools/bin/gungraun-runner"
if [[ ! -x "$runner" ]]; then
    echo "instructions.sh: installing gungraun-runner $version into $tools" >&2
    cargo install --locked --quiet --version "$version" --root "$tools" gungraun-runner
fi

target="${CARGO_TARGET_DIR:-target}"
out="$target/gungraun"
rm -rf "$out"
GUNGRAUN_RUNNER="$runner" cargo bench --locked -q -p tessera --bench instructions -- \
    --save-summary=json --nosummary >&2

python3 - "$out" "$BASELINE" "$THRESHOLD_PERCENT" "$update" <<'PY'
import json, pathlib, sys
out, baseline_path, threshold, update = sys.argv[1], pathlib.Path(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "true"
found = {}
for summary in pathlib.Path(out).rglob("summary.json"):
    s = json.loads(summary.read_text())
    name = s.get("function_name", "?") + (("." + s["id"]) if s.get("id") else "")
    # The run's total over every thread it measured.
    try:
        ir = s["profiles"][0]["summaries"]["total"]["summary"]["Callgrind"]["Ir"]["metrics"]["Left"]["Int"]
    except (KeyError, IndexError, TypeError):
        ir = None
    if ir is None:
        sys.exit(f"instructions.sh: no instruction count in {summary}")
    found[name] = ir
if not found:
    sys.exit("instructions.sh: the benchmarks wrote no summary")
if update:
    baseline_path.write_text(json.dumps(dict(sorted(found.items())), indent=2) + "\n")
    print(f"instructions.sh: wrote {baseline_path} ({len(found)} benchmarks)")
    sys.exit(0)
base = json.loads(baseline_path.read_text())
failed = False
for name in sorted(set(base) | set(found)):
    b, n = base.get(name), found.get(name)
    if b is None or n is None:
        print(f"{name}: {'new' if b is None else 'gone'} (run scripts/instructions.sh --update)")
        failed = True
        continue
    change = (n - b) * 100.0 / b
    verdict = "REGRESSION" if change > threshold else ("faster: consider --update" if change < -threshold else "ok")
    print(f"{name:40} {b:>14,} -> {n:>14,}  {change:+6.1f}%  {verdict}")
    failed |= change > threshold
sys.exit(1 if failed else 0)
PY
