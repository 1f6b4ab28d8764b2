#!/usr/bin/env python3
"""Measure StackingEnv speed per cell: physics steps/s without rendering, control steps/s with a 64x64 image,
and render ms per frame (64x64 and 128x128). Writes JSON (default benchmarks/results/sim_speed.json).
Usage: MUJOCO_GL=egl python sim/benchmark_sim.py [--cells primitive real] [--out PATH]"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gato_ros.sim import StackingEnv  # noqa: E402


def measure(cell: str, object_set: str, seconds: float = 3.0) -> dict:
    t0 = time.perf_counter()
    env = StackingEnv(cell=cell, object_set=object_set)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    env.reset(seed=1)
    reset_s = time.perf_counter() - t0
    hold = np.r_[np.zeros(7), -1.0]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        env.physics_step(hold, 100)
        n += 100
    physics_sps = n / (time.perf_counter() - t0)
    env.reset(seed=1)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        env.step(hold)
        n += 1
    control_sps = n / (time.perf_counter() - t0)
    render = {}
    for size in ((64, 64), (128, 128)):
        env.render(image_size=size)
        k, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 2:
            env.render(image_size=size)
            k += 1
        render[f"{size[0]}x{size[1]}"] = 1e3 * (time.perf_counter() - t0) / k
    env.close()
    return {"cell": cell, "object_set": object_set, "model_build_and_first_reset_s": round(build_s, 3),
            "reset_s": round(reset_s, 3), "physics_steps_per_s": round(physics_sps),
            "realtime_factor_no_render": round(physics_sps * 0.0005, 2),
            "control_steps_per_s_with_64x64_render": round(control_sps, 1),
            "render_ms_per_frame": {k: round(v, 2) for k, v in render.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", nargs="+", default=["primitive", "real"])
    parser.add_argument("--object-set", default="rgb_test_triplet1")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sim_speed.json")
    args = parser.parse_args()
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
               "mujoco_gl": os.environ.get("MUJOCO_GL"), "cells": [measure(c, args.object_set) for c in args.cells]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
