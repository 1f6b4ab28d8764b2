"""One declarative description of the stacking node graph, read by launch/stacking.launch.py and by the runner.

Nodes, executables, parameter files (config/*.yaml), parameters set from launch arguments and start
conditions live here only, so `ros2 launch gato_ros stacking.launch.py` and `gato-ros run stacking` cannot drift.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from gato_ros.interfaces import FALSE_WORDS, OBJECT_FRAMES, TRUE_WORDS

PACKAGE = "gato_ros"
SIM_TIME_ARG = "use_sim_time"  # launch argument and ROS parameter of the same name
URDF_ARG = "urdf"  # launch argument: URDF file whose text nodes with `robot_description` get (ROS convention)
ROBOT_ARG = "robot"  # launch argument: the registry arm (robots/<name>/robot.yaml)
ROBOT_PARAMS_DIR = "robots"  # config/robots/<robot>.yaml: the arm's parameters of every node (joint names, gains)
OBJECT_FRAME_ARG = "object_frame"  # launch argument and sim/agent/recorder parameter (interfaces.OBJECT_FRAMES)
ROBOT_DESCRIPTION = "robot_description"  # the parameter holding URDF text


def model_object_frame(model: str) -> str:
    """The object frame a model reads (gato.json tokenizer.object_frame; `model` empty: the agent's default model);
    "body" when no model can be read (the agent then fails configure with the real reason)."""
    from gato_ros.agent.model_dir import ModelDirError, resolve_model_dir
    from gato_ros.config import ConfigError, GatoConfig

    try:
        return GatoConfig.load(resolve_model_dir(model) / "gato.json").tokenizer.object_frame
    except (ModelDirError, ConfigError):
        return "body"


class GraphArgumentError(ValueError):
    """A launch argument is unknown or has a value its condition cannot read."""


@dataclass(frozen=True)
class LaunchArg:
    """A launch argument; `default_from` names another argument whose value is the default."""

    name: str
    default: str
    description: str
    default_from: str | None = None


@dataclass(frozen=True)
class ArgParam:
    """A node parameter whose value is a launch argument (`kind` 'str' or 'bool')."""

    param: str
    arg: str
    kind: str = "str"


@dataclass(frozen=True)
class Condition:
    """Start a node when argument `arg` is true ('if'), false ('unless') or a non-empty string ('nonempty'), or
    when argument `or_if` (if given) is true."""

    arg: str
    kind: str = "if"
    or_if: str | None = None


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph: executable of package gato_ros, parameter files under config/, condition."""

    name: str
    executable: str
    param_files: tuple[str, ...]
    arg_params: tuple[ArgParam, ...] = ()
    condition: Condition | None = None
    lifecycle: bool = False  # configure + activate right after start
    sim_time: bool = True    # takes use_sim_time (the sim itself owns /clock and runs on wall time)
    robot_description: bool = False  # gets the URDF text of launch argument `urdf` as parameter robot_description
    robot_params: bool = False  # also reads config/robots/<robot>.yaml (after its own files, before overrides)

    @property
    def module(self) -> str:
        """Python module runnable as `python -m` (the console script's target)."""
        return f"{PACKAGE}.nodes.{self.executable}"


@dataclass(frozen=True)
class GraphSpec:
    args: tuple[LaunchArg, ...]
    nodes: tuple[NodeSpec, ...]
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {a.name: a for a in self.args})
        for node in self.nodes:
            cond = node.condition
            used = [p.arg for p in node.arg_params] + ([cond.arg] if cond else []) + \
                ([cond.or_if] if cond and cond.or_if else [])
            for name in used:
                if name not in self._by_name:
                    raise GraphArgumentError(f"node {node.name} uses undeclared launch argument {name!r}")

    def resolve(self, values: Mapping[str, str]) -> dict[str, str]:
        """All argument values: given ones (strings) plus defaults, like launch's LaunchConfiguration."""
        unknown = sorted(set(values) - set(self._by_name))
        if unknown:
            raise GraphArgumentError(f"unknown launch arguments {unknown}; known: {sorted(self._by_name)}")
        out: dict[str, str] = {}
        for arg in self.args:  # declared in order, so default_from refers to an earlier argument
            if arg.name in values:
                out[arg.name] = str(values[arg.name])
            else:
                out[arg.name] = out[arg.default_from] if arg.default_from else arg.default
        if out.get(OBJECT_FRAME_ARG) == "":  # the frame the model reads, for the sim, agent and recorder alike
            out[OBJECT_FRAME_ARG] = model_object_frame(out.get("model", ""))
        return out

    def active_nodes(self, values: Mapping[str, str]) -> list[NodeSpec]:
        """The nodes whose condition holds for these (resolved) argument values."""
        return [n for n in self.nodes if n.condition is None or condition_holds(n.condition, values)]

    def check(self, values: Mapping[str, str]) -> list[NodeSpec]:
        """Read every argument the way the runner does before it starts anything (conditions, typed parameters, the
        robot's parameter file, the URDF) and return the nodes to start; GraphArgumentError names a bad one. The launch
        file calls it too, as launch alone would take yes/no/on/off for some booleans and fail late on others."""
        resolved = self.resolve(values)
        if OBJECT_FRAME_ARG in resolved and resolved[OBJECT_FRAME_ARG] not in OBJECT_FRAMES:
            raise GraphArgumentError(f"launch argument {OBJECT_FRAME_ARG}={resolved[OBJECT_FRAME_ARG]!r}: use one of "
                                     f"{', '.join(OBJECT_FRAMES)} (or leave it empty: the model's)")
        nodes = self.active_nodes(resolved)
        for spec in nodes:
            param_files(spec, resolved)
            node_parameters(spec, resolved)
        return nodes

    def misspelled(self, names: Iterable[str]) -> dict[str, str]:
        """Of `names` that are no argument of this graph, those close to one (`shadwo` -> `shadow`): launch ignores an
        undeclared argument, so a typo of shadow:=true would start the agent on the live arm."""
        out: dict[str, str] = {}
        for name in sorted(set(names) - set(self._by_name)):
            close = difflib.get_close_matches(name, list(self._by_name), n=1, cutoff=0.8)
            if close:
                out[name] = close[0]
        return out

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


def as_bool(value: str, arg: str = "?") -> bool:
    """Read a boolean launch argument the way launch's IfCondition does ('true'/'1', 'false'/'0')."""
    v = str(value).strip().lower()
    if v in TRUE_WORDS:
        return True
    if v in FALSE_WORDS:
        return False
    raise GraphArgumentError(f"launch argument {arg}={value!r} must be true or false")


def condition_holds(cond: Condition, values: Mapping[str, str]) -> bool:
    if cond.or_if is not None and as_bool(values[cond.or_if], cond.or_if):
        return True
    value = values[cond.arg]
    if cond.kind == "if":
        return as_bool(value, cond.arg)
    if cond.kind == "unless":
        return not as_bool(value, cond.arg)
    if cond.kind == "nonempty":
        return value != ""
    raise GraphArgumentError(f"unknown condition kind {cond.kind!r}")


def urdf_file(value: str, robot: str = "") -> Path:
    """The URDF file that launch argument `urdf` names; empty: the registry URDF of `robot` (empty: the default)."""
    if value:
        return Path(value)
    from gato_ros.robot.registry import DEFAULT_ROBOT, RobotRegistryError, load_robot

    try:
        return load_robot(robot or DEFAULT_ROBOT).urdf_path()
    except RobotRegistryError as exc:
        raise GraphArgumentError(f"launch argument {ROBOT_ARG}={robot!r}: {exc}") from exc


def robot_param_file(robot: str) -> str:
    """config/-relative parameter file of registry arm `robot` (robots/<robot>.yaml)."""
    from gato_ros.robot.registry import available_robots

    if robot not in available_robots():
        raise GraphArgumentError(f"launch argument {ROBOT_ARG}={robot!r}: not in the robot registry "
                                 f"{available_robots()}")
    return f"{ROBOT_PARAMS_DIR}/{robot}.yaml"


def param_files(node: NodeSpec, values: Mapping[str, str]) -> tuple[str, ...]:
    """The node's parameter files under config/, in load order: its own, then its robot's (robot_params)."""
    if not node.robot_params:
        return node.param_files
    return node.param_files + (robot_param_file(values[ROBOT_ARG]),)


def node_parameters(node: NodeSpec, values: Mapping[str, str]) -> dict[str, object]:
    """Parameters the graph sets on `node` on top of its parameter files (typed)."""
    params: dict[str, object] = {}
    if node.sim_time:
        params[SIM_TIME_ARG] = as_bool(values[SIM_TIME_ARG], SIM_TIME_ARG)
    if node.robot_description:
        path = urdf_file(values[URDF_ARG], values.get(ROBOT_ARG, ""))
        try:
            params[ROBOT_DESCRIPTION] = path.read_text()
        except OSError as exc:
            raise GraphArgumentError(f"launch argument {URDF_ARG}={values[URDF_ARG]!r}: cannot read {path}: "
                                     f"{exc}") from exc
    for p in node.arg_params:
        params[p.param] = as_bool(values[p.arg], p.arg) if p.kind == "bool" else values[p.arg]
    return params


STACKING = GraphSpec(
    args=(
        LaunchArg("sim", "false", "true: run the MuJoCo RGB Stacking cell; false: a real robot driver owns the topics"),
        LaunchArg("model", "", "model directory (gato.json + ONNX); empty: models/default or the only model shipped"),
        LaunchArg("prompt_demo", "", "rosbag2 directory of one demonstration used as the prompt; empty: none"),
        LaunchArg("teleop", "false", "true: teleop node commands the arm instead of the agent"),
        LaunchArg("record", "", "directory to record episodes into (rosbag2, MCAP); empty: no recording"),
        LaunchArg(SIM_TIME_ARG, "", "follow /clock; defaults to the value of sim", default_from="sim"),
        LaunchArg("randomization", "", "sim domain randomization: a preset (none, mild, strong) or a YAML file "
                                       "(config/randomization/); empty: none"),
        LaunchArg("sim_dynamics", "", "sim arm dynamics file (from `gato-ros sim2real fit`); empty: nominal"),
        LaunchArg(URDF_ARG, "", "URDF file passed as robot_description text to safety, teleop and foxglove; empty: the "
                                "robot's registry URDF (sawyer: urdf/sawyer_2f85.urdf)"),
        LaunchArg("foxglove", "false", "true: live view, a Foxglove WebSocket server (config/foxglove.yaml: "
                                       "ws://127.0.0.1:8765; layout config/foxglove_layout.json)"),
        LaunchArg("viewer", "false", "true: MuJoCo's interactive viewer on the sim (needs a display; without one the "
                                     "sim warns and runs on)"),
        LaunchArg("teleop_device", "", "gamepad or spacemouse (config/teleop_devices.yaml): joy_teleop turns that "
                                       "device's sensor_msgs/Joy (from the ROS joy or spacenav node) into "
                                       "/teleop/twist and /teleop/gripper; empty: none"),
        LaunchArg("shadow", "false", "true: shadow mode; the agent runs on the live sensor stream but never moves the "
                                     "arm (it holds, or follows teleop when teleop:=true); the safety node publishes "
                                     "what the agent would have sent on /safety/shadow_output (docs/SIM2REAL.md)"),
        LaunchArg(OBJECT_FRAME_ARG, "", "which frame of each object /sim/object_poses carries: body, or grasp (x "
                                        "along its narrowest horizontal width); empty: the one the model reads "
                                        "(gato.json tokenizer.object_frame; the agent refuses the other)"),
        LaunchArg(ROBOT_ARG, "sawyer", "registry arm (robots/<name>: sawyer, panda); its joint names and gains "
                                       "come from config/robots/<name>.yaml, its limits from its URDF"),
    ),
    nodes=(
        NodeSpec("sim", "sim", ("sim.yaml",), arg_params=(ArgParam("viewer", "viewer", "bool"),
                                                         ArgParam("randomization", "randomization"),
                                                         ArgParam("dynamics", "sim_dynamics"),
                                                         ArgParam("object_frame", OBJECT_FRAME_ARG)),
                 condition=Condition("sim", "if"), sim_time=False, robot_params=True),
        NodeSpec("safety", "safety", ("safety.yaml",), arg_params=(ArgParam("shadow", "shadow", "bool"),),
                 robot_description=True, robot_params=True),
        NodeSpec("agent", "agent", ("agent.yaml",),
                 arg_params=(ArgParam("model_dir", "model"), ArgParam("prompt_demo", "prompt_demo"),
                             ArgParam("object_frame", OBJECT_FRAME_ARG)),
                 condition=Condition("teleop", "unless", or_if="shadow"), lifecycle=True, robot_params=True),
        NodeSpec("teleop", "teleop", ("teleop.yaml",), condition=Condition("teleop", "if"), robot_description=True,
                 robot_params=True),
        NodeSpec("recorder", "recorder", ("recorder.yaml",), arg_params=(ArgParam("output_dir", "record"),
                                                                        ArgParam("record_outputs", "shadow", "bool"),
                                                                        ArgParam("object_frame", OBJECT_FRAME_ARG)),
                 condition=Condition("record", "nonempty")),
        NodeSpec("joy_teleop", "joy_teleop", ("joy_teleop.yaml",), arg_params=(ArgParam("device", "teleop_device"),),
                 condition=Condition("teleop_device", "nonempty")),
        NodeSpec("foxglove", "foxglove_view", ("foxglove.yaml",), condition=Condition("foxglove", "if"),
                 robot_description=True),
    ),
)
