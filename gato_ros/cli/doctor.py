"""`gato-ros doctor`: check this environment for what the stack needs and say what is missing.

Checks ROS 2 (distro, rclpy, RMW, discovery settings, a publish/subscribe round trip over DDS), the launch tools,
ONNX Runtime and its providers, MuJoCo and its GL backend (an offscreen render), the other Python modules the nodes
import, the package's data and the model directory. Exit status 1 when a check fails (a warning does not).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    hint: str = ""


def _version(module: object, dist: str | None = None) -> str:
    version = getattr(module, "__version__", None)
    if version is None and dist:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = None
    return str(version) if version else "?"


def check_python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("python", OK if ok else FAIL, f"{sys.version.split()[0]} ({sys.executable})",
                 "" if ok else "Python 3.10 or newer is needed")


def check_ros() -> Check:
    distro = os.environ.get("ROS_DISTRO", "")
    try:
        import rclpy
    except ImportError as exc:
        return Check("ROS 2 (rclpy)", FAIL, f"rclpy not importable: {exc}",
                     "source /opt/ros/<distro>/setup.bash, or the pip-only route: make install (ROS 2 Kilted wheels)")
    where = "pip wheels" if "site-packages" in str(Path(rclpy.__file__)) and not distro else "ROS install"
    detail = f"rclpy {_version(rclpy, 'ros-rclpy')} from {Path(rclpy.__file__).parent} ({where})"
    if distro:
        detail += f"; ROS_DISTRO={distro}"
        if distro not in ("jazzy", "kilted", "rolling"):
            return Check("ROS 2 (rclpy)", WARN, detail, "built and tested on Kilted (and Jazzy's API)")
    return Check("ROS 2 (rclpy)", OK, detail)


def check_rmw() -> Check:
    try:
        from rclpy.utilities import get_rmw_implementation_identifier
    except ImportError as exc:
        return Check("RMW", FAIL, f"rclpy unavailable: {exc}")
    env = os.environ.get("RMW_IMPLEMENTATION", "")
    try:
        ident = get_rmw_implementation_identifier()
    except Exception as exc:  # noqa: BLE001 - a broken RMW shows here first
        return Check("RMW", FAIL, f"cannot load {env or 'the default RMW'}: {exc}",
                     "install the RMW named by RMW_IMPLEMENTATION (e.g. ros-rclpy[fastrtps]) or unset it")
    return Check("RMW", OK, f"{ident}" + (f" (RMW_IMPLEMENTATION={env})" if env else " (default)"))


def check_discovery() -> Check:
    keys = ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_STATIC_PEERS", "ROS_LOCALHOST_ONLY")
    settings = ", ".join(f"{k}={os.environ[k]}" for k in keys if k in os.environ) or "defaults (domain 0, subnet)"
    if "ROS_LOCALHOST_ONLY" in os.environ:
        return Check("DDS discovery settings", WARN, settings,
                     "ROS_LOCALHOST_ONLY is deprecated: use ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST")
    domain = os.environ.get("ROS_DOMAIN_ID", "0")
    if not domain.isdigit() or not 0 <= int(domain) <= 232:
        return Check("DDS discovery settings", FAIL, settings, "ROS_DOMAIN_ID must be an integer 0..232 (0..101 safe)")
    return Check("DDS discovery settings", OK, settings)


def check_dds_round_trip(timeout_s: float = 5.0) -> Check:
    """A publisher and a subscription in two contexts of this process: discovery and delivery over DDS."""
    try:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from std_msgs.msg import String
    except ImportError as exc:
        return Check("DDS round trip", FAIL, f"cannot import rclpy / std_msgs: {exc}")
    topic = f"/gato_doctor_{os.getpid()}"
    ctx_pub, ctx_sub = Context(), Context()
    got: list[float] = []
    try:
        rclpy.init(context=ctx_pub)
        rclpy.init(context=ctx_sub)
        pub_node = rclpy.create_node("gato_doctor_pub", context=ctx_pub, start_parameter_services=False)
        sub_node = rclpy.create_node("gato_doctor_sub", context=ctx_sub, start_parameter_services=False)
        pub = pub_node.create_publisher(String, topic, 10)
        sub_node.create_subscription(String, topic, lambda m: got.append(time.monotonic()), 10)
        executor = SingleThreadedExecutor(context=ctx_sub)
        executor.add_node(sub_node)
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s and not got:
            pub.publish(String(data="ping"))
            executor.spin_once(timeout_sec=0.05)
        if got:
            return Check("DDS round trip", OK, f"discovered and delivered in {got[0] - t0:.2f} s")
        return Check("DDS round trip", FAIL, f"nothing delivered on {topic} within {timeout_s:.0f} s",
                     "check the RMW, the firewall and ROS_AUTOMATIC_DISCOVERY_RANGE / ROS_STATIC_PEERS")
    except Exception as exc:  # noqa: BLE001
        return Check("DDS round trip", FAIL, f"{type(exc).__name__}: {exc}")
    finally:
        for ctx in (ctx_pub, ctx_sub):
            if ctx.ok():
                rclpy.shutdown(context=ctx)


def check_launch_tools() -> Check:
    missing = [m for m in ("launch", "launch_ros", "ros2cli") if importlib.util.find_spec(m) is None]
    if missing:
        return Check("ros2 launch tools", WARN, f"not importable: {', '.join(missing)}",
                     "without them `gato-ros run stacking` starts the same graph; with a ROS install: "
                     "rosdep install --from-paths src --ignore-src")
    return Check("ros2 launch tools", OK, "launch, launch_ros, ros2cli importable")


def check_ament_index() -> Check:
    try:
        from ament_index_python.packages import get_package_share_directory

        share = get_package_share_directory("gato_ros")
    except Exception as exc:  # noqa: BLE001 - not installed in an ament prefix
        return Check("ament index", WARN, f"gato_ros not in the ament index ({type(exc).__name__})",
                     "needed by `ros2 launch gato_ros ...`: colcon build, then source install/setup.bash")
    return Check("ament index", OK, f"gato_ros share: {share}")


def check_onnxruntime() -> Check:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return Check("ONNX Runtime", FAIL, f"not importable: {exc}", "pip install onnxruntime (or onnxruntime-gpu)")
    providers = ort.get_available_providers()
    detail = f"{_version(ort)}; providers {providers}"
    if "CUDAExecutionProvider" not in providers:
        return Check("ONNX Runtime", OK, detail + " (no CUDA provider: the agent runs on CPU)")
    if not Path("/dev/nvidiactl").exists() and not Path("/dev/nvidia0").exists():
        return Check("ONNX Runtime", OK, detail + " (CUDA provider built in, but no NVIDIA device here: "
                                                  "execution_provider auto runs on CPU)")
    return Check("ONNX Runtime", OK, detail)


def check_mujoco() -> Check:
    backend = os.environ.get("MUJOCO_GL", "")
    try:
        import mujoco
    except ImportError as exc:
        return Check("MuJoCo", FAIL, f"not importable: {exc}", "pip install mujoco (needed by the sim node only)")
    detail = f"{_version(mujoco)}; MUJOCO_GL={backend or '(unset: glfw, needs a display)'}"
    try:
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><light pos='0 0 1'/><geom type='sphere' size='.1'/></worldbody></mujoco>")
        with mujoco.Renderer(model, 16, 16) as renderer:
            data = mujoco.MjData(model)
            mujoco.mj_forward(model, data)
            renderer.update_scene(data)
            renderer.render()
    except Exception as exc:  # noqa: BLE001 - the GL backend is what usually fails
        return Check("MuJoCo", FAIL, f"{detail}; offscreen render failed: {type(exc).__name__}: {exc}",
                     "headless: export MUJOCO_GL=egl (GPU/EGL) or MUJOCO_GL=osmesa (apt install libosmesa6)")
    return Check("MuJoCo", OK, detail + "; offscreen render works")


def check_modules() -> Check:
    needed = {"numpy": "numpy", "yaml": "pyyaml", "cv2": "opencv-python-headless", "sentencepiece": "sentencepiece",
              "rosbags": "rosbags"}
    missing = [f"{mod} (pip install {pkg})" for mod, pkg in needed.items() if importlib.util.find_spec(mod) is None]
    if missing:
        return Check("Python modules", FAIL, "missing: " + ", ".join(missing))
    return Check("Python modules", OK, ", ".join(needed))


def check_package_data() -> Check:
    try:
        from gato_ros.paths import share_dir
        from gato_ros.robot import default_urdf_path

        share = share_dir()
    except Exception as exc:  # noqa: BLE001
        return Check("package data", FAIL, f"{type(exc).__name__}: {exc}")
    missing = [p for p in ("config/safety.yaml", "config/agent.yaml", "launch/stacking.launch.py")
               if not (share / p).is_file()]
    if not default_urdf_path().is_file():
        missing.append(str(default_urdf_path()))
    if missing:
        return Check("package data", FAIL, f"{share}: missing {missing}", "reinstall the package")
    return Check("package data", OK, str(share))


def check_model(model_dir: str) -> Check:
    try:
        from gato_ros.agent.model_dir import resolve_model_dir

        path = resolve_model_dir(model_dir)
    except Exception as exc:  # noqa: BLE001
        return Check("model dir", FAIL, str(exc), "gato-ros export --random tiny --out DIR makes a (random) model")
    try:
        from gato_ros.runtime import GatoPolicy

        policy = GatoPolicy(path, provider="cpu")
        detail = f"{path}: loads on cpu, context {policy.context_tokens} tokens"
    except Exception as exc:  # noqa: BLE001 - ModelLoadError, ConfigError, ...
        return Check("model dir", FAIL, f"{path}: {type(exc).__name__}: {exc}",
                     "re-export it with this version (gato-ros export CHECKPOINT --out DIR)")
    return Check("model dir", OK, detail)


def run_checks(model_dir: str = "", dds: bool = True) -> list[Check]:
    checks: list[Callable[[], Check]] = [check_python, check_ros, check_rmw, check_discovery]
    if dds:
        checks.append(check_dds_round_trip)
    checks += [check_launch_tools, check_ament_index, check_onnxruntime, check_mujoco, check_modules,
               check_package_data, lambda: check_model(model_dir)]
    out = []
    for check in checks:
        try:
            out.append(check())
        except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
            out.append(Check(getattr(check, "__name__", "check"), FAIL, f"{type(exc).__name__}: {exc}"))
    return out


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("doctor", help="check this environment (ROS 2, RMW, DDS, ONNX Runtime, MuJoCo, model)")
    parser.add_argument("--model", default="", help="model directory to check (default: the one the agent loads)")
    parser.add_argument("--no-dds", action="store_true", help="skip the DDS publish/subscribe round trip")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.set_defaults(func=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    checks = run_checks(args.model, dds=not args.no_dds)
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"[{c.status:>4}] {c.name:<{width}}  {c.detail}")
            if c.hint and c.status != OK:
                print(f"       {'':<{width}}  -> {c.hint}")
        failed = [c.name for c in checks if c.status == FAIL]
        print("all checks passed" if not failed else f"{len(failed)} check(s) failed: {', '.join(failed)}")
    return 1 if any(c.status == FAIL for c in checks) else 0
