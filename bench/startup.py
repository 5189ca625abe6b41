"""Time to verdict: the three costs a user of the Docker action pays on each run, measured with podman.

(a) build: `podman build --no-cache` of the Dockerfile, what `image: Dockerfile` makes every workflow run pay
    (the base image is local here; on a runner it is pulled too), in wall seconds;
(b) start: the prebuilt image, from `podman run` to the action's first output line and to its exit, in wall
    seconds (pulling a published image is not measured: there is no registry here);
(c) run: the action's own CPU seconds (user + system) inside the image, to its first output line and in all.

(b) and (c) run the action the way the runner does (mounts, workdir, `INPUT_*`, tests/e2e/conftest.py's
emulation) on the bundled demo traces, on a `push` event: no pull request, so no comment and no network, only
the action's own work. The medians of --runs runs are printed, then the ratios.

Usage (root; podman with CONTAINERS_CONF=<shared>/tools/containers.conf; the stand-in base that
.ci/container.sh makes): .venv/bin/python bench/startup.py [--image TAG] [--skip-build] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import PASSING_GATES, Layout, runner_env, write_workspace  # noqa: E402

BASE = "localhost/debian-bookworm-python:local"
NO_CACHE_TAG = "localhost/kalibra-action:bench-no-cache"
# Run inside the image with its Python: starts the image's entry point (its arguments), notes its CPU time
# (/proc/PID/stat) when its first line arrives, and its whole CPU time when it exits; prints both as JSON
# (the action's own output is drained and dropped).
PROBE = """
import json, os, resource, subprocess, sys
tick = os.sysconf("SC_CLK_TCK")
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
child.stdout.readline()
with open(f"/proc/{child.pid}/stat") as f:
    fields = f.read().rsplit(")", 1)[1].split()
first = (int(fields[11]) + int(fields[12])) / tick
child.stdout.read()
code = child.wait()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "first": first, "total": usage.ru_utime + usage.ru_stime}))
"""


def build_without_cache(podman: str) -> float:
    """Wall seconds of a build that reuses no layer (the base image is present)."""
    start = time.perf_counter()
    proc = subprocess.run([podman, "build", "--no-cache", "--pull=never", "--network=host", "--quiet",
                           "--build-arg", f"BASE_IMAGE={BASE}", "-t", NO_CACHE_TAG, str(ROOT)],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"podman build failed:\n{proc.stderr[-4000:]}")
    subprocess.run([podman, "rmi", NO_CACHE_TAG], check=False, capture_output=True)
    return seconds


def run_command(podman: str, image: str, layout: Layout, entrypoint: list[str] = ()) -> list[str]:
    """`podman run` as the runner does it: the four mounted folders, the workdir, the runner's variables."""
    env = runner_env(layout, api_url="http://127.0.0.1:9", event_name="push", event={}, inputs={},
                     inside=True)
    cmd = [podman, "run", "--rm", "--network=host", "--workdir", "/github/workspace"]
    for name in ("workspace", "file_commands", "workflow", "home"):
        cmd += ["-v", f"{layout.root / name}:/github/{name}"]
    for key, value in env.items():
        cmd += ["-e", f"{key}={value}"]
    if entrypoint:
        cmd += ["--entrypoint", entrypoint[0], image, *entrypoint[1:]]
    else:
        cmd.append(image)
    return cmd


def fresh_layout(scratch: Path) -> Layout:
    """A runner's folders with the demo traces and a passing config, new for each run."""
    root = scratch / "runner"
    shutil.rmtree(root, ignore_errors=True)
    layout = Layout(root)
    write_workspace(layout.workspace, PASSING_GATES)
    return layout


def bare_start(podman: str, image: str) -> float:
    """Wall seconds of `podman run` of the image with `true` as its command: the container alone."""
    start = time.perf_counter()
    subprocess.run([podman, "run", "--rm", "--entrypoint", "true", image], check=True)
    return time.perf_counter() - start


def start_to_output(podman: str, image: str, scratch: Path) -> tuple[float, float]:
    """Wall seconds from `podman run` to the action's first output line, and to the container's exit."""
    cmd = run_command(podman, image, fresh_layout(scratch))
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdout.readline()
    first = time.perf_counter() - start
    proc.stdout.read()
    code = proc.wait()
    if code != 0:
        raise SystemExit(f"the action exited {code} on the demo traces")
    return first, time.perf_counter() - start


def own_cpu(podman: str, image: str, scratch: Path) -> tuple[float, float]:
    """The action's CPU seconds inside the image: to its first output line, and in all."""
    inspect = [podman, "image", "inspect", "--format", "{{json .Config.Entrypoint}}", image]
    entrypoint = json.loads(subprocess.run(inspect, capture_output=True, text=True, check=True).stdout)
    cmd = run_command(podman, image, fresh_layout(scratch), ["python", "-c", PROBE, *entrypoint])
    got = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    if got["code"] != 0:
        raise SystemExit(f"the action exited {got['code']} on the demo traces")
    return got["first"], got["total"]


def median_pair(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="localhost/kalibra-action:test",
                        help="the prebuilt image to start (.ci/container.sh builds it)")
    parser.add_argument("--skip-build", action="store_true", help="skip (a), the build with an empty cache")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    podman = shutil.which("podman") or sys.exit("podman is needed")
    with tempfile.TemporaryDirectory(prefix="kalibra-startup-") as tmp:
        scratch = Path(tmp)
        build = None if args.skip_build else build_without_cache(podman)
        bare = statistics.median(bare_start(podman, args.image) for _ in range(args.runs))
        start_first, start_exit = median_pair([start_to_output(podman, args.image, scratch)
                                               for _ in range(args.runs)])
        cpu_first, cpu_total = median_pair([own_cpu(podman, args.image, scratch) for _ in range(args.runs)])
    print(f"medians of {args.runs} runs, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if build is not None:
        print(f"(a) build from the Dockerfile, empty cache:      {build:7.2f} s wall")
    print(f"(b) prebuilt image, podman run of `true`:        {bare:7.2f} s wall")
    print(f"    prebuilt image, podman run to first output:  {start_first:7.2f} s wall")
    print(f"    prebuilt image, podman run to exit (verdict): {start_exit:7.2f} s wall")
    print(f"(c) the action's own CPU to first output:        {cpu_first:7.2f} s")
    print(f"    the action's own CPU, whole run:             {cpu_total:7.2f} s")
    if build is not None:
        print(f"build per run vs prebuilt start to first output: {build / start_first:5.0f}×")
        print(f"time to verdict, build + run vs prebuilt run:    {(build + start_exit) / start_exit:5.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
