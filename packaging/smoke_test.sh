#!/usr/bin/env bash
# Build the PyInstaller bundle and prove the frozen app starts: `--version`, then
# `demo --headless` (one sync cycle against the bundled sandbox) in a throwaway data directory.
# Fails on a non-zero exit or on any stderr line not matched by HARMLESS_STDERR below.
#
#   packaging/smoke_test.sh                                   build into a temp dir, then run
#   SMOKE_BUNDLE=packaging/dist/ml-connector packaging/smoke_test.sh   test an existing bundle
#   PYTHON=/path/to/venv/python packaging/smoke_test.sh       interpreter with PyInstaller + deps
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}

# Lines the frozen app may print on stderr that say nothing about our code (one regex each).
HARMLESS_STDERR=(
  # Qt on a headless Linux box or in a container running as root.
  '^QStandardPaths: XDG_RUNTIME_DIR not set'
  '^QStandardPaths: runtime directory .* is not owned by UID'
  '^QStandardPaths: wrong permissions on runtime directory'
  # the offscreen platform (no window system) says this when any top-level window is shown
  '^This plugin does not support propagateSizeHints\(\)'
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
read -r app_name app_version < <("$PYTHON" "$here/appinfo.py")

if [[ -n "${SMOKE_BUNDLE:-}" ]]; then
  bundle=$(cd "$SMOKE_BUNDLE" && pwd)
else
  started=$(date +%s)
  "$PYTHON" "$here/build.py" --no-installer --dist "$work/dist" --work "$work/build" >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; echo "smoke_test: PyInstaller build failed" >&2; exit 1; }
  bundle="$work/dist/$app_name"
  echo "smoke_test: built in $(( $(date +%s) - started )) s, bundle $(du -sh "$bundle" | cut -f1)"
fi
# The bundle ships no test suite, harness or test tool (the spec refuses a build whose analysis
# finds one; this checks what came out).
test_only_regex="^[[[:space:]]*\\('(tests|pytest|_pytest|pytestqt|pytest_timeout|hypothesis)[.']"
if [[ -z "${SMOKE_BUNDLE:-}" ]]; then
  pyz_toc="$work/build/ml-connector/PYZ-00.toc"  # workpath/<spec name>/
  [[ -f "$pyz_toc" ]] || { echo "smoke_test: no module list at $pyz_toc" >&2; exit 1; }
  if grep -E "$test_only_regex" "$pyz_toc"; then
    echo "smoke_test: the bundle carries test-only modules (above)" >&2; exit 1
  fi
fi
if [[ -e "$bundle/_internal/tests" ]]; then
  echo "smoke_test: the bundle carries the test harness" >&2; exit 1
fi
exe="$bundle/$app_name"
[[ -x "$exe" ]] || exe="$bundle/$app_name.exe"
[[ -x "$exe" ]] || { echo "smoke_test: no executable in $bundle" >&2; exit 1; }

harmless_regex=$(IFS='|'; echo "${HARMLESS_STDERR[*]}")

run_frozen() {  # run_frozen LABEL ARGS...: fail on exit status or unexpected stderr
  local label=$1; shift
  local status=0
  ML_CONNECTOR_HOME="$work/home-$label" QT_QPA_PLATFORM=offscreen \
    timeout 300 "$exe" "$@" >"$work/$label.out" 2>"$work/$label.err" || status=$?
  local unexpected
  unexpected=$(grep -v -E "$harmless_regex" "$work/$label.err" || true)
  if [[ $status -ne 0 || -n "$unexpected" ]]; then
    echo "smoke_test: '$*' failed (exit $status)" >&2
    echo "--- stdout"; cat "$work/$label.out"
    echo "--- unexpected stderr"; echo "$unexpected"
    exit 1
  fi
  echo "smoke_test: '$*' ok"
}

run_frozen version --version
grep -q -F "$app_version" "$work/version.out" \
  || { echo "smoke_test: --version printed '$(cat "$work/version.out")', expected $app_version" >&2; exit 1; }
run_frozen demo demo --headless
run_frozen gui gui --quit-after-start
tail -n 20 "$work/demo.out"
echo "smoke_test: OK ($exe)"
