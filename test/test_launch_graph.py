"""One graph for launch and runner: the launch file reads graph.STACKING; runner commands and CLI follow it too.

Runs without `launch` installed (the launch file is read as source; test_launch_stacking.py runs it for real).
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
from pathlib import Path

import pytest
import yaml

from gato_ros.cli import build_parser
from gato_ros.launch_runner.graph import (
    PACKAGE, STACKING, ArgParam, Condition, GraphArgumentError, GraphSpec, LaunchArg, NodeSpec, model_object_frame,
    node_parameters,
)
from gato_ros.launch_runner.runner import RunnerError, node_command, write_overrides
from gato_ros.paths import config_dir, launch_dir
from gato_ros.robot import default_urdf_path

LAUNCH_FILE = launch_dir() / "stacking.launch.py"
DEFAULT_FRAME = model_object_frame("")  # the object frame the default model reads


def _launch_ast() -> ast.Module:
    return ast.parse(LAUNCH_FILE.read_text())


def test_launch_file_takes_everything_from_the_shared_graph() -> None:
    tree = _launch_ast()
    imported = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert ("gato_ros.launch_runner.graph", "STACKING") in imported
    # the real launch / launch_ros APIs, not look-alikes
    for module, name in [("launch.actions", "DeclareLaunchArgument"), ("launch.actions", "EmitEvent"),
                         ("launch.actions", "RegisterEventHandler"), ("launch.conditions", "IfCondition"),
                         ("launch_ros.actions", "LifecycleNode"), ("launch_ros.actions", "Node"),
                         ("launch_ros.event_handlers", "OnStateTransition"),
                         ("launch_ros.events.lifecycle", "ChangeState"),
                         ("ament_index_python.packages", "get_package_share_directory")]:
        assert (module, name) in imported, f"{module}.{name} not used"
    loops = [ast.unparse(n.iter) for n in ast.walk(tree) if isinstance(n, ast.For)]
    assert "STACKING.args" in loops and "STACKING.nodes" in loops
    # nothing hard-coded: no node or argument name appears as a string literal in the launch file
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    names = {s.name for s in STACKING.nodes} | {a.name for a in STACKING.args}
    assert not (names & literals), f"hard-coded graph names in the launch file: {names & literals}"
    funcs = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in funcs


def _console_scripts() -> set[str]:
    """The console scripts of the gato_ros distribution as installed (pip, pip -e, colcon, colcon --symlink-install)."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("gato_ros is imported from a tree that is not installed (no distribution metadata)")
    return {ep.name for ep in dist.entry_points if ep.group == "console_scripts"}


def test_graph_nodes_are_installed_executables_with_parameter_files() -> None:
    scripts = _console_scripts()
    assert "gato-ros" in scripts
    for spec in STACKING.nodes:
        assert spec.executable in scripts, f"{spec.executable} is not a console script of the installed package"
        assert spec.module.startswith("gato_ros.nodes.")
        for name in spec.param_files:
            assert name.endswith(".yaml")
            assert (config_dir() / name).is_file(), f"{name} is not in {config_dir()}"
    try:  # in an ament prefix (colcon), launch_ros runs <prefix>/lib/gato_ros/<executable>
        from ament_index_python.packages import get_package_prefix
        prefix = Path(get_package_prefix(PACKAGE))
    except (ImportError, LookupError, OSError):  # pip-only: no ament index (or no AMENT_PREFIX_PATH)
        return
    for spec in STACKING.nodes:
        executable = prefix / "lib" / PACKAGE / spec.executable
        assert executable.is_file(), f"{spec.executable} not in {prefix}/lib/{PACKAGE}"


@pytest.mark.parametrize("node", ["agent", "safety"])
def test_parameter_files_exist_and_name_their_node(node: str) -> None:
    spec = STACKING.node(node)
    for name in spec.param_files:
        data = yaml.safe_load((config_dir() / name).read_text())
        assert node in data or "/**" in data, f"{name} has no section for node {node}"
        assert importlib.util.find_spec(spec.module) is not None


def test_defaults_conditions_and_typed_parameters() -> None:
    values = STACKING.resolve({})
    assert values == {"sim": "false", "model": "", "prompt_demo": "", "teleop": "false", "record": "",
                      "use_sim_time": "false", "randomization": "", "sim_dynamics": "", "urdf": "",
                      "foxglove": "false", "viewer": "false", "teleop_device": "", "shadow": "false",
                      "object_frame": DEFAULT_FRAME, "robot": "sawyer"}
    assert [n.name for n in STACKING.active_nodes(values)] == ["safety", "agent"]
    values = STACKING.resolve({"sim": "true", "record": "/tmp/x", "model": "/m"})
    assert values["use_sim_time"] == "true"  # follows sim, like DeclareLaunchArgument(default=LaunchConfiguration)
    assert [n.name for n in STACKING.active_nodes(values)] == ["sim", "safety", "agent", "recorder"]
    assert node_parameters(STACKING.node("agent"), values) == {"use_sim_time": True, "model_dir": "/m",
                                                                "prompt_demo": "", "object_frame": "body"}
    assert node_parameters(STACKING.node("sim"), values) == {  # no use_sim_time: it owns /clock
        "viewer": False, "randomization": "", "dynamics": "", "object_frame": "body"}
    teleop = STACKING.resolve({"teleop": "True", "use_sim_time": "0"})
    assert [n.name for n in STACKING.active_nodes(teleop)] == ["safety", "teleop"]
    urdf_text = default_urdf_path().read_text()
    assert node_parameters(STACKING.node("safety"), teleop) == {"use_sim_time": False, "robot_description": urdf_text,
                                                                 "shadow": False}
    assert node_parameters(STACKING.node("teleop"), teleop)["robot_description"] == urdf_text


def test_shadow_runs_the_agent_beside_teleop_and_tells_safety_and_recorder() -> None:
    """shadow:=true: the agent runs even with teleop:=true (the operator moves the arm, the agent is compared with
    them), the safety node gets shadow=true and the recorder records the safety outputs; the launch file builds the
    same condition (teleop false, or shadow true) from launch's own boolean substitutions."""
    both = STACKING.resolve({"teleop": "true", "shadow": "true", "record": "/tmp/x"})
    assert [n.name for n in STACKING.active_nodes(both)] == ["safety", "agent", "teleop", "recorder"]
    assert node_parameters(STACKING.node("safety"), both)["shadow"] is True
    assert node_parameters(STACKING.node("recorder"), both) == {"use_sim_time": False, "output_dir": "/tmp/x",
                                                                 "record_outputs": True, "object_frame": DEFAULT_FRAME}
    alone = STACKING.resolve({"shadow": "1", "sim": "true"})
    assert [n.name for n in STACKING.active_nodes(alone)] == ["sim", "safety", "agent"]
    off = STACKING.resolve({"teleop": "true"})
    assert [n.name for n in STACKING.active_nodes(off)] == ["safety", "teleop"]
    assert node_parameters(STACKING.node("safety"), off)["shadow"] is False
    with pytest.raises(GraphArgumentError, match="undeclared"):
        GraphSpec(args=(LaunchArg("a", "", ""),), nodes=(NodeSpec("n", "n", (), condition=Condition("a", or_if="b")),))
    imported = {(n.module, a.name) for n in ast.walk(_launch_ast()) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert {("launch.substitutions", "OrSubstitution"), ("launch.substitutions", "NotSubstitution")} <= imported
    assert "cond.or_if" in LAUNCH_FILE.read_text()
    args = build_parser().parse_args(["run", "stacking", "--shadow"])
    assert args.arg_shadow == "true"


def test_robot_description_is_the_urdf_text_of_the_urdf_argument(tmp_path: Path) -> None:
    """safety and teleop get URDF text in robot_description (the ROS convention), from `urdf` or the package URDF."""
    own = tmp_path / "arm.urdf"
    own.write_text("<robot name='x'/>")
    values = STACKING.resolve({"urdf": str(own)})
    assert node_parameters(STACKING.node("safety"), values)["robot_description"] == "<robot name='x'/>"
    assert "robot_description" not in node_parameters(STACKING.node("agent"), values)
    with pytest.raises(GraphArgumentError, match="cannot read"):
        node_parameters(STACKING.node("safety"), STACKING.resolve({"urdf": str(tmp_path / "missing.urdf")}))
    # the launch file passes the same text: FileContent of the `urdf` argument, else of the package URDF
    src = LAUNCH_FILE.read_text()
    assert "FileContent(" in src and "ROBOT_DESCRIPTION" in src
    override = write_overrides(STACKING.node("safety"), STACKING.resolve({}), tmp_path)
    params = yaml.safe_load(override.read_text())["safety"]["ros__parameters"]
    assert params["robot_description"] == default_urdf_path().read_text()  # the runner passes it too


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(GraphArgumentError, match="unknown launch arguments"):
        STACKING.resolve({"simulation": "true"})
    with pytest.raises(GraphArgumentError, match="true or false"):
        STACKING.active_nodes(STACKING.resolve({"sim": "yes please"}))
    with pytest.raises(GraphArgumentError, match="undeclared"):
        GraphSpec(args=(LaunchArg("a", "", ""),), nodes=(NodeSpec("n", "n", (), (ArgParam("p", "b"),)),))
    with pytest.raises(GraphArgumentError, match="undeclared"):
        GraphSpec(args=(), nodes=(NodeSpec("n", "n", (), condition=Condition("x")),))


def test_runner_command_line_mirrors_launch_ros(tmp_path: Path) -> None:
    values = STACKING.resolve({"sim": "true", "model": "/models/tiny"})
    spec = STACKING.node("agent")
    override = write_overrides(spec, values, tmp_path)
    assert yaml.safe_load(override.read_text()) == {
        "agent": {"ros__parameters": {"use_sim_time": True, "model_dir": "/models/tiny", "prompt_demo": "",
                                      "object_frame": "body"}}}
    cmd = node_command(spec, config_dir(), override, python="python3")
    assert cmd[:7] == ["python3", "-m", "gato_ros.nodes.agent", "--ros-args", "-r", "__node:=agent", "--params-file"]
    files = [cmd[i + 1] for i, c in enumerate(cmd) if c == "--params-file"]
    assert files == [str(config_dir() / "agent.yaml"), str(override)]  # overrides last, as in the launch file
    with pytest.raises(RunnerError, match="does not exist"):
        node_command(spec, tmp_path, None)


def test_cli_options_are_the_launch_arguments() -> None:
    parser = build_parser()
    args = parser.parse_args(["run", "stacking", "--sim", "true", "--prompt-demo", "/d", "--episodes", "3"])
    assert args.arg_sim == "true" and args.arg_prompt_demo == "/d" and args.episodes == 3 and args.arg_model is None
    run_parser = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith(" run"))
    options = {o for a in run_parser._actions for o in a.option_strings}
    for arg in STACKING.args:
        assert f"--{arg.name.replace('_', '-')}" in options


def test_robot_argument_selects_the_registry_arm(tmp_path: Path) -> None:
    """robot:=panda: every robot-aware node reads config/robots/panda.yaml last, safety and teleop get the Panda URDF;
    the runner's command line and the launch file do the same; an arm outside the registry is refused."""
    from gato_ros.launch_runner.graph import param_files
    from gato_ros.robot.registry import load_robot

    values = STACKING.resolve({"sim": "true", "robot": "panda"})
    for name in ("sim", "safety", "agent", "teleop"):
        spec = STACKING.node(name)
        assert param_files(spec, values) == spec.param_files + ("robots/panda.yaml",)
        cmd = node_command(spec, config_dir(), None, python="python3", files=param_files(spec, values))
        assert cmd[-1] == str(config_dir() / "robots" / "panda.yaml")
    assert param_files(STACKING.node("recorder"), values) == STACKING.node("recorder").param_files
    panda_urdf = load_robot("panda").urdf_path().read_text()
    assert node_parameters(STACKING.node("safety"), values)["robot_description"] == panda_urdf
    assert node_parameters(STACKING.node("safety"), STACKING.resolve({}))["robot_description"] == \
        default_urdf_path().read_text()
    with pytest.raises(GraphArgumentError, match="not in the robot registry"):
        param_files(STACKING.node("safety"), STACKING.resolve({"robot": "ur5e"}))
    with pytest.raises(GraphArgumentError, match="robot='ur5e'"):
        node_parameters(STACKING.node("safety"), STACKING.resolve({"robot": "ur5e"}))
    src = LAUNCH_FILE.read_text()
    assert "ROBOT_PARAMS_DIR" in src and "_RobotUrdf()" in src
    args = build_parser().parse_args(["run", "stacking", "--robot", "panda"])
    assert args.arg_robot == "panda"


def test_runner_refuses_an_unknown_robot_before_starting_nodes() -> None:
    from gato_ros.launch_runner.runner import Runner

    with pytest.raises(GraphArgumentError, match="not in the robot registry"):
        Runner({"sim": "true", "robot": "ur5e"})


def test_check_reads_every_argument_as_the_runner_and_the_launch_file_calls_it(tmp_path: Path) -> None:
    """GraphSpec.check refuses what the runner refuses (launch's own booleans would take shadow:=yes), and the launch
    file runs it before its nodes (test_launch_stacking.py checks that under the real launch)."""
    assert [n.name for n in STACKING.check({"sim": "true", "shadow": "True", "teleop": "1"})] == [
        "sim", "safety", "agent", "teleop"]
    assert [n.name for n in STACKING.check({"robot": "panda"})] == ["safety", "agent"]
    for bad, match in [({"shadow": "yes"}, "shadow='yes' must be true or false"),
                       ({"shadow": "on", "teleop": "true"}, "shadow='on' must be true or false"),
                       ({"viewer": "no", "sim": "true"}, "viewer='no' must be true or false"),
                       ({"robot": "ur5e"}, "not in the robot registry"),
                       ({"urdf": str(tmp_path / "missing.urdf")}, "cannot read"),
                       ({"simulation": "true"}, "unknown launch arguments")]:
        with pytest.raises(GraphArgumentError, match=match):
            STACKING.check(bad)
    # launch ignores undeclared arguments: the launch file refuses those close to one of ours
    assert STACKING.misspelled({"shadwo", "robto", "shadow", "use_rviz", "robot_name", "namespace"}) == {
        "shadwo": "shadow", "robto": "robot"}
    tree = _launch_ast()
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert {"STACKING.check", "STACKING.misspelled", "OpaqueFunction"} <= calls
    body = ast.unparse(next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                            and n.name == "generate_launch_description"))
    assert body.index("OpaqueFunction(") < body.index("for spec in STACKING.nodes")  # before any node action


def test_object_frame_follows_the_model_unless_given(tmp_path) -> None:
    """object_frame empty: the frame the model's gato.json names (body without a readable model), for the sim, the
    agent and the recorder alike; a given value wins; a bad one is refused before anything starts."""
    import dataclasses
    import json

    from gato_ros.config import GatoConfig

    base = GatoConfig()
    grasp = dataclasses.replace(base, tokenizer=dataclasses.replace(base.tokenizer, object_state=True,
                                                                    object_frame="grasp"))
    (tmp_path / "gato.json").write_text(json.dumps(grasp.to_dict()))
    values = STACKING.resolve({"sim": "true", "model": str(tmp_path)})
    assert values["object_frame"] == "grasp"
    for node in ("sim", "agent"):
        assert node_parameters(STACKING.node(node), values)["object_frame"] == "grasp"
    assert STACKING.resolve({"model": str(tmp_path), "object_frame": "body"})["object_frame"] == "body"
    assert STACKING.resolve({"model": str(tmp_path / "none")})["object_frame"] == "body"
    with pytest.raises(GraphArgumentError, match="object_frame='camera'"):
        STACKING.check({"object_frame": "camera"})
