"""A multi-node `talkavatar batch` on one machine: a Ray head node and a second node started with `ray start
--address` (each 1 CPU, resource labels head_node / second_node), a batch of tiny fits of synthetic bundles plus
renders joined to it with --address; once a job runs on the second node, that node is stopped (its raylet killed,
so `ray start --block` tears the rest of it down). Every job must still finish, on the head node.

    PYTHONPATH=$PWD python benchmarks/batch_multinode.py --workdir /tmp/multinode [--fits 4 --iters 40]

Prints a table (job, state, node label, attempts, seconds) and a JSON line; exits 1 if a job was lost.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_scene(work: Path, fits: int, iters: int) -> Path:
    import numpy as np

    from talkavatar.motion import Motion, save_motion
    from tests.fit_fixtures import make_bundle

    jobs = ['output = "out"', "[fit]", 'preset = "tiny"', f"iters = {iters}", "uv_res = 20", "image_size = 96",
            "crop_size = 32", "pseudo_size = 64", "pseudo_frames = 4", "[render]", "width = 64", "height = 96"]
    for i in range(fits):
        if not (work / f"p{i}.avatar" / "bundle.json").is_file():
            make_bundle(work / f"p{i}.avatar")
        jobs += ["[[job]]", f'fit = "p{i}.avatar"']
    motion = Motion.still(12, fps=25.0)
    motion.joint_rotations[:, 16, 2] = np.linspace(0, 1, 12)
    save_motion(work / "wave.motion.safetensors", motion)
    for i in range(min(2, fits)):
        jobs += ["[[job]]", f'render = "p{i}"', 'motion = "wave.motion.safetensors"']
    (work / "jobs.toml").write_text("\n".join(jobs) + "\n")
    return work / "jobs.toml"


def ray_start(*args: str, block: bool = False) -> subprocess.Popen:
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # the head made ~/.ray/auth_token; nodes and clients use it
    command = ["ray", "start", "--num-cpus", "1", "--disable-usage-stats", "--object-store-memory", "100000000",
               *args] + (["--block"] if block else [])
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def raylet_of(parent: int, timeout: float = 300) -> tuple[int, str]:
    """(pid, node id) of the raylet that ``ray start --block`` (pid ``parent``) started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            try:
                if not proc.name.isdigit() or (proc / "stat").read_text().split(") ")[1].split()[1] != str(parent):
                    continue
                args = (proc / "cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if args and args[0].endswith("raylet/raylet"):
                node = next(a.split("=", 1)[1] for a in args if a.startswith("--node_id="))
                return int(proc.name), node
        time.sleep(1)
    raise SystemExit("the second node's raylet never started")


def session_pids(session: Path) -> list[int]:
    """Processes of the head's Ray session (their command lines name its session folder)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(session).encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--fits", type=int, default=4)
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--port", type=int, default=6390)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    jobs = make_scene(args.workdir, args.fits, args.iters)
    address = f"127.0.0.1:{args.port}"
    t0 = time.time()
    ray_start("--head", "--port", str(args.port), "--resources", '{"head_node": 1}', "--include-dashboard",
              "false").wait()
    session = Path("/tmp/ray/session_latest").resolve()
    second = ray_start("--address", address, "--resources", '{"second_node": 1}', block=True)
    try:
        raylet, second_id = raylet_of(second.pid)
        print(f"cluster up in {time.time() - t0:.1f} s; second node {second_id[:8]} (raylet pid {raylet})")
        return run_and_stop_second(jobs, address, raylet, second_id)
    finally:
        for pid in session_pids(session) + [second.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_and_stop_second(jobs: Path, address: str, raylet: int, second_id: str) -> int:
    out = jobs.parent / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "token"}
    t0 = time.time()
    batch = subprocess.Popen([sys.executable, "-m", "talkavatar", "batch", str(jobs), "--address", address, "--json",
                              "--force"], env=env, stdout=subprocess.PIPE, text=True)
    victim = None
    while batch.poll() is None and victim is None:
        records = [json.loads(p.read_text() or "{}") for p in (out / "status").glob("*.json")]
        mine = [r for r in records if r.get("node") == second_id and r.get("started", 0) > t0]
        running = [r for r in mine if r["state"] == "running"]
        if running and any(r["state"] == "done" for r in mine):  # it finished a job and runs another
            time.sleep(3.0)  # mid-job
            os.kill(raylet, signal.SIGKILL)
            victim = (running[0]["job"], round(time.time() - t0, 1))
        time.sleep(0.5)
    stdout, _ = batch.communicate()
    summary = json.loads(stdout)
    print(f"second node stopped {victim[1] if victim else '-'} s into the batch, while running "
          f"{victim[0] if victim else 'nothing'}")
    print(f"{'job':<12} {'state':<8} {'node':<12} {'attempts':>8} {'seconds':>8}")
    for row in summary["rows"]:
        label = "second" if row["node"] == second_id else "head"
        print(f"{row['job']:<12} {row['state']:<8} {label + ' ' + str(row['node'])[:4]:<12} {row['attempts']:>8} "
              f"{row['seconds']:>8}")
    lost = [row["job"] for row in summary["rows"] if row["state"] != "done"]
    print(json.dumps({"jobs": summary["jobs"], "done": summary["done"], "lost": lost, "victim": victim,
                      "batch_seconds": summary["seconds"], "nodes_used": len(summary["nodes"])}))
    return 1 if lost or victim is None else 0


if __name__ == "__main__":
    sys.exit(main())
