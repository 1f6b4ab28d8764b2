"""`ros2 launch gato_ros stacking.launch.py [sim:=true] [model:=DIR] [prompt_demo:=DIR] [teleop:=true] [record:=DIR]
[urdf:=FILE] [robot:=NAME] [shadow:=true]`.

Builds the graph described in gato_ros.launch_runner.graph (shared with `gato-ros run stacking`): sim (optional),
safety (always), agent (lifecycle: configured, then activated once it reaches `inactive`), teleop, recorder.
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler, SetLaunchConfiguration,
)
from launch.conditions import IfCondition, UnlessCondition
from launch.events import matches_action
from launch.substitution import Substitution
from launch.substitutions import (
    FileContent, IfElseSubstitution, LaunchConfiguration, NotEqualsSubstitution, NotSubstitution, OrSubstitution,
)
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from lifecycle_msgs.msg import Transition

from gato_ros.launch_runner.graph import (
    OBJECT_FRAME_ARG, PACKAGE, ROBOT_ARG, ROBOT_DESCRIPTION, ROBOT_PARAMS_DIR, SIM_TIME_ARG, STACKING, URDF_ARG,
    Condition, GraphArgumentError, NodeSpec, urdf_file,
)


class _RobotUrdf(Substitution):
    """The registry URDF file of the arm named by the `robot` argument (graph.urdf_file, as the runner)."""

    def perform(self, context) -> str:
        return str(urdf_file("", LaunchConfiguration(ROBOT_ARG).perform(context)))


def _condition(cond: Condition | None):
    """The launch condition equal to the graph's (runner) condition."""
    if cond is None:
        return None
    value = LaunchConfiguration(cond.arg)
    if cond.or_if is not None:  # (the condition on arg) or (or_if is true)
        test = {"if": value, "unless": NotSubstitution(value), "nonempty": NotEqualsSubstitution(value, "")}
        if cond.kind not in test:
            raise ValueError(f"unknown condition kind {cond.kind!r}")
        return IfCondition(OrSubstitution(test[cond.kind], LaunchConfiguration(cond.or_if)))
    if cond.kind == "if":
        return IfCondition(value)
    if cond.kind == "unless":
        return UnlessCondition(value)
    if cond.kind == "nonempty":
        return IfCondition(NotEqualsSubstitution(value, ""))
    raise ValueError(f"unknown condition kind {cond.kind!r}")


def _robot_description() -> ParameterValue:
    """URDF text of the file named by the `urdf` argument, else of the robot's registry URDF (graph.urdf_file)."""
    urdf = LaunchConfiguration(URDF_ARG)
    path = IfElseSubstitution(NotEqualsSubstitution(urdf, ""), if_value=urdf, else_value=_RobotUrdf())
    return ParameterValue(FileContent(path), value_type=str)


def _parameters(spec: NodeSpec, config_dir: str) -> list:
    """Parameter files first, then the values taken from launch arguments (these win, as in the runner)."""
    overrides: dict = {}
    if spec.sim_time:
        overrides[SIM_TIME_ARG] = ParameterValue(LaunchConfiguration(SIM_TIME_ARG), value_type=bool)
    if spec.robot_description:
        overrides[ROBOT_DESCRIPTION] = _robot_description()
    for p in spec.arg_params:
        overrides[p.param] = ParameterValue(LaunchConfiguration(p.arg), value_type=bool if p.kind == "bool" else str)
    files: list = [os.path.join(config_dir, f) for f in spec.param_files]
    if spec.robot_params:  # graph.param_files: config/robots/<robot>.yaml after the node's own files
        files.append([os.path.join(config_dir, ROBOT_PARAMS_DIR, ""), LaunchConfiguration(ROBOT_ARG), ".yaml"])
    return files + ([overrides] if overrides else [])


def _node_actions(spec: NodeSpec, config_dir: str) -> list:
    common = dict(package=PACKAGE, executable=spec.executable, name=spec.name, output="screen",
                  parameters=_parameters(spec, config_dir),
                  condition=_condition(spec.condition))
    if not spec.lifecycle:
        return [Node(**common)]
    node = LifecycleNode(namespace="", **common)
    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, start_state="configuring", goal_state="inactive",
        entities=[EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                              transition_id=Transition.TRANSITION_ACTIVATE))],
    ), condition=_condition(spec.condition))
    configure = EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                            transition_id=Transition.TRANSITION_CONFIGURE),
                          condition=_condition(spec.condition))
    return [activate, node, configure]


def _check_arguments(context) -> list:
    """Refuse, before any process starts, what `gato-ros run` refuses (graph.GraphSpec.check): launch alone takes
    shadow:=yes (its boolean substitutions read yes/no/on/off), and finds a bad robot:= or urdf:= only at the first
    node that reads it. Launch also ignores undeclared arguments: refuse those close to ours (shadwo:=true would run
    the agent live); let others pass (a launch file including this one may have its own)."""
    typos = STACKING.misspelled(context.launch_configurations)
    if typos:
        raise GraphArgumentError("unknown launch arguments " + ", ".join(
            f"{name!r} (did you mean {arg!r}?)" for name, arg in typos.items()))
    given = {arg.name: LaunchConfiguration(arg.name).perform(context) for arg in STACKING.args}
    STACKING.check(given)
    # object_frame empty: the frame the model reads (graph.model_object_frame), set before any node reads it
    return [SetLaunchConfiguration(OBJECT_FRAME_ARG, STACKING.resolve(given)[OBJECT_FRAME_ARG])]


def generate_launch_description() -> LaunchDescription:
    config_dir = os.path.join(get_package_share_directory(PACKAGE), "config")
    actions: list = []
    for arg in STACKING.args:
        default = LaunchConfiguration(arg.default_from) if arg.default_from else arg.default
        actions.append(DeclareLaunchArgument(arg.name, default_value=default, description=arg.description))
    actions.append(OpaqueFunction(function=_check_arguments))
    for spec in STACKING.nodes:
        actions.extend(_node_actions(spec, config_dir))
    return LaunchDescription(actions)
