#!/usr/bin/env bash
# Build the action's image with podman and run the failing-PR scenario inside it, the way the runner does.
# Needs root (apt-get, podman). The shared folder (../shared) holds containers.conf and make-base-image.sh.
# Env: KALIBRA_IMAGE_MAX_MB (default 250), KALIBRA_IMAGE_SIZE_CHECK=fail|warn (default fail).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${KALIBRA_SHARED:-$ROOT/../shared}
BASE=localhost/debian-bookworm-python:local
IMAGE=${KALIBRA_IMAGE:-localhost/kalibra-action:test}
MAX_MB=${KALIBRA_IMAGE_MAX_MB:-250}
SIZE_CHECK=${KALIBRA_IMAGE_SIZE_CHECK:-fail}
SLIM_MB=${KALIBRA_SLIM_MB:-150}  # python:3.12-slim, uncompressed, rounded up
PY=${PYTHON:-$ROOT/.venv/bin/python}

need=()
for tool in podman buildah debootstrap runc; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah debootstrap runc >/dev/null
fi
export CONTAINERS_CONF=$SHARED/tools/containers.conf  # runc, and ulimits this VM allows

if ! podman image exists "$BASE"; then
  echo "== building the base image $BASE (a stand-in for python:3.12-slim; 1-3 min)"
  # the shared folder may be read-only: run the script through bash
  bash "$SHARED/tools/make-base-image.sh" "$BASE"
fi

echo "== building $IMAGE"
start=$(date +%s)
podman build --pull=never --network=host --build-arg BASE_IMAGE="$BASE" -t "$IMAGE" .
echo "built in $(( $(date +%s) - start )) s"

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
base_size=$(podman image inspect --format '{{.Size}}' "$BASE")
mb=$(( size / 1000000 )); added=$(( (size - base_size) / 1000000 ))
# The budget is for the image users get: python:3.12-slim (about $SLIM_MB MB) plus what the action adds.
# The local stand-in base is larger than python:3.12-slim, so the check is on the added layers.
added_budget=$(( MAX_MB - SLIM_MB ))
echo "image size: ${mb} MB on the stand-in base ($(( base_size / 1000000 )) MB); added by the action: ${added} MB;" \
     "on python:3.12-slim: about $(( SLIM_MB + added )) MB (budget ${MAX_MB} MB)"
if [ "$added" -gt "$added_budget" ]; then
  msg="the action adds ${added} MB, over the ${added_budget} MB left by python:3.12-slim in the ${MAX_MB} MB budget"
  if [ "$SIZE_CHECK" = fail ]; then echo "ERROR: $msg"; exit 1; fi
  echo "WARNING: $msg"
fi

echo "== container test"
KALIBRA_CONTAINER_IMAGE=$IMAGE "$PY" -m pytest -p no:cacheprovider tests/e2e/test_container.py -m container -v
