#!/usr/bin/env bash
# Build the action's image with podman (once: the size check and the tests use the same image), check the
# size of the layers it adds to the base, and run tests/e2e/test_container.py against it: the failing-PR
# scenario the way the runner runs it (as root and as uid 1001), no pip/setuptools/wheel importable, every
# module precompiled, every file readable by any uid.
# Needs root (apt-get, podman). The shared folder (../shared) holds containers.conf and make-base-image.sh.
# Env: KALIBRA_IMAGE (tag to build), KALIBRA_IMAGE_ADDED_MB (budget for the added layers, default 80),
# KALIBRA_IMAGE_SIZE_CHECK=fail|warn (default fail).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${KALIBRA_SHARED:-$ROOT/../shared}
BASE=localhost/debian-bookworm-python:local
IMAGE=${KALIBRA_IMAGE:-localhost/kalibra-action:test}
ADDED_MB=${KALIBRA_IMAGE_ADDED_MB:-80}
SIZE_CHECK=${KALIBRA_IMAGE_SIZE_CHECK:-fail}
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
added=$(( (size - base_size) / 1000000 ))
# The budget is on what the action adds to its base (the local stand-in base is not python:3.12-slim, and the
# layers that delete the base's installers only add whiteouts).
echo "image size: $(( size / 1000000 )) MB on the stand-in base ($(( base_size / 1000000 )) MB);" \
     "added by the action: ${added} MB (budget ${ADDED_MB} MB)"
if [ "$added" -gt "$ADDED_MB" ]; then
  msg="the action adds ${added} MB to its base, over the ${ADDED_MB} MB budget"
  if [ "$SIZE_CHECK" = fail ]; then echo "ERROR: $msg"; exit 1; fi
  echo "WARNING: $msg"
fi

echo "== container tests (the image as built above)"
KALIBRA_CONTAINER_IMAGE=$IMAGE "$PY" -m pytest -p no:cacheprovider tests/e2e/test_container.py -m container -v
