"""The ROS interfaces of gato_ros, each defined once: joint and observation layout, topic names, QoS profiles and
the one `sensor_msgs/Image` decoder.

Every node, the demo bags, the runner and the tests import these names; nothing else spells a topic or a QoS.
Importing this module needs neither rclpy nor a ROS install (`Qos.profile()` imports rclpy when called), and it
imports nothing of gato_ros: every other module may import it. docs/INTERFACES.md is generated from these names
and the node configs by `python -m gato_ros.interfaces` (gato_ros/interfaces/doc.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# ----------------------------------------------------------------------------- robot and observation layout

#: Controlled joints: the order of every effort array, joint-state reordering and the model's actions.
ARM_JOINTS: tuple[str, ...] = tuple(f"right_j{i}" for i in range(7))
GRIPPER_JOINT: str = "gripper_joint"
JOINT_NAMES: tuple[str, ...] = ARM_JOINTS + (GRIPPER_JOINT,)
#: Proprioception: arm positions (7), arm velocities (7), gripper position (1) (gato_ros.observation builds it).
PROPRIO_SIZE = 2 * len(ARM_JOINTS) + 1
#: Object state (a diagnostic observation): per object, in this order, position (3) + quaternion wxyz (4).
OBJECT_COLORS: tuple[str, ...] = ("red", "green", "blue")
OBJECT_STATE_SIZE = 7 * len(OBJECT_COLORS)
#: Which frame of each object the poses are of (gato.json tokenizer.object_frame, the sim's object_frame): "body", the
#: object's mesh frame, or "grasp", that frame turned about its own z axis so its x axis runs along the object's
#: narrowest horizontal width: the closing direction of a top-down parallel grasp (gato_ros.sim.objects.grasp_yaw).
OBJECT_FRAMES: tuple[str, ...] = ("body", "grasp")
#: Object extents (tokenizer.object_extents): per object, in OBJECT_COLORS order, the half sizes (m) along x, y, z of
#: its own reported frame of the smallest box centred on that frame's origin that holds the object: what a pose
#: estimator's 3D bounding boxes give. Why: a pose is of the object's centre, so once red has left the floor its bottom
#: (and blue's top) are not observable from poses alone, and the expert carries and places by them.
OBJECT_EXTENTS_SIZE = 3 * len(OBJECT_COLORS)
#: Kinematic features (tokenizer.kinematics; gato_ros.observation.kinematic_features), base frame: pinch position (3),
#: the pinch rotation's x and y axes (6), pinch linear velocity (3), red - pinch (3), blue - red (3), green - pinch (3).
KINEMATIC_SIZE = 21
#: A Cartesian command (robot.action_space: cartesian; gato_ros.control.CartesianImpedanceController.lead_torques): the
#: pinch point's move this control step (m, base frame), the wrist's turn (rotation vector, rad), the gripper command.
CARTESIAN_COMMAND_NAMES: tuple[str, ...] = ("x", "y", "z", "rx", "ry", "rz", "gripper")
CARTESIAN_COMMAND_SIZE = len(CARTESIAN_COMMAND_NAMES)
CARTESIAN_MAX_STEP = 0.012  # m: the largest move per axis and step (the sim expert's free-space lead)
CARTESIAN_MAX_TURN = 0.06  # rad: the largest turn per step

# ----------------------------------------------------------------------------- topics

CAMERA_TOPIC = "/camera/image_raw"  # sensor_msgs/Image, rgb8 (bgr8 accepted)
CAMERA_INFO_TOPIC = "/camera/camera_info"
JOINT_STATES_TOPIC = "/joint_states"
COMMAND_TOPIC = "/gato/effort_command"  # Float64MultiArray: JOINT_NAMES efforts from the agent or teleop
EFFORT_OUTPUT_TOPIC = "/effort_controller/commands"  # the safety node's filtered efforts (ros2_control)
ESTOP_TOPIC = "/gato/estop"  # std_msgs/Bool
#: Float64MultiArray, CARTESIAN_COMMAND_NAMES: the Cartesian command behind an effort command (demo bags of the sim
#: expert; what a robot.action_space: cartesian model learns)
CARTESIAN_COMMAND_TOPIC = "/gato/cartesian_command"
INSTRUCTION_TOPIC = "/gato/instruction"  # std_msgs/String (demo bags)
OUTCOME_TOPIC = "/gato/outcome"  # std_msgs/String, JSON {"success": bool, ...} (demo bags)
#: geometry_msgs/PoseArray in frame OBJECT_POSES_FRAME, poses in OBJECT_COLORS order.
OBJECT_POSES_TOPIC = "/sim/object_poses"
OBJECT_POSES_FRAME = "world"
#: std_msgs/Float64MultiArray, OBJECT_EXTENTS_SIZE values (see there), latched: republished when the objects change.
OBJECT_EXTENTS_TOPIC = "/sim/object_extents"
CLOCK_TOPIC = "/clock"
JOY_TOPIC = "/joy"  # sensor_msgs/Joy from the ROS `joy` node (gamepad) or `spacenav` (/spacenav/joy)
ACTION_DISTRIBUTION_TOPIC = "/gato/action_distribution"  # std_msgs/String JSON, the agent's last step (live view)
COMMANDER_TOPIC = "/gato/commander"  # std_msgs/String, JSON: who publishes COMMAND_TOPIC (role, model, prompt)
DIAGNOSTICS_TOPIC = "/diagnostics"
TELEOP_TWIST_TOPIC = "/teleop/twist"  # geometry_msgs/Twist, pinch-point velocity in the robot base frame
TELEOP_GRIPPER_TOPIC = "/teleop/gripper"  # std_msgs/Float64, 0 open .. 1 closed
#: sensor_msgs/TimeReference from the safety node, one per command that reached its output: header.stamp = when that
#: output was published (system clock), time_ref = the command's stamp (its image's), source = COMMAND_STAMP_SOURCE.
OUTPUT_LATENCY_TOPIC = "/safety/output_latency"
#: Float64MultiArray, JOINT_NAMES efforts: in shadow mode, what the safety node would have sent the arm for the agent's
#: command (the same filter, its own state); the arm gets EFFORT_OUTPUT_TOPIC (hold or the operator's command).
SHADOW_OUTPUT_TOPIC = "/safety/shadow_output"
COMMAND_STAMP_SOURCE = "image"

# ----------------------------------------------------------------------------- QoS


@dataclass(frozen=True)
class Qos:
    """A QoS profile as data (history is always keep-last); `profile()` builds the rclpy QoSProfile."""

    depth: int
    reliable: bool
    transient_local: bool = False
    note: str = ""

    def profile(self) -> Any:
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self.depth,
                          reliability=ReliabilityPolicy.RELIABLE if self.reliable else ReliabilityPolicy.BEST_EFFORT,
                          durability=DurabilityPolicy.TRANSIENT_LOCAL if self.transient_local
                          else DurabilityPolicy.VOLATILE)


#: Images and other high-rate sensor streams: rclpy's qos_profile_sensor_data.
SENSOR_QOS = Qos(5, reliable=False, note="the ROS sensor-data profile")
#: Commands: reliable, only the newest (a stale command is worse than a lost one).
COMMAND_QOS = Qos(1, reliable=True)
#: Joint states (sim publisher) and object poses: reliable, small queue.
STATE_QOS = Qos(5, reliable=True)
#: Latched one-shot topics: late joiners still get the last message.
LATCHED_QOS = Qos(1, reliable=True, transient_local=True)
#: The safety node's latency samples: reliable and deep, so a benchmark reading them loses none.
LATENCY_QOS = Qos(50, reliable=True)
#: Subscriptions that must accept any publisher: best effort matches reliable and best-effort senders alike.
ANY_PUBLISHER_QOS = Qos(10, reliable=False, note="matches reliable and best-effort publishers")
#: Diagnostics: reliable, default depth (diagnostic_aggregator convention).
DIAGNOSTICS_QOS = Qos(10, reliable=True)
#: /clock from the sim.
CLOCK_QOS = Qos(1, reliable=False)
#: The safety output: ros2_control's JointGroupEffortController subscribes with the default (reliable) QoS.
OUTPUT_QOS = Qos(10, reliable=True, note="ros2_control's default")
#: The shadow output: as OUTPUT_QOS, so a recorder or a compare tool sees every sample the arm's output has.
SHADOW_OUTPUT_QOS = Qos(10, reliable=True, note="as OUTPUT_QOS")
#: Safety's command intake: any publisher; the newest INTAKE_PER_TICK are kept (DDS drops older ones of a flood).
INTAKE_PER_TICK = 10
COMMAND_INTAKE_QOS = Qos(INTAKE_PER_TICK, reliable=False, note="newest wins")
#: Safety's e-stop: one subscription per QoS family, so every publisher matches one (best effort matches any
#: reliability; transient-local also gets a latched e-stop published before safety started).
ESTOP_QOS_FAMILIES = (Qos(10, reliable=False), Qos(10, reliable=True), LATCHED_QOS)
#: The recorder's inputs: best effort, deep enough for 100 Hz joint states between executor turns.
RECORDER_INPUT_QOS = Qos(50, reliable=False)
#: Commander announcements: latched per publisher; deep enough that every commanding node's last one is kept.
COMMANDER_QOS = Qos(10, reliable=True, transient_local=True, note="latched, one per commanding node")
#: name -> profile, for docs/INTERFACES.md
QOS_PROFILES: dict[str, Qos] = {
    "SENSOR_QOS": SENSOR_QOS, "COMMAND_QOS": COMMAND_QOS, "STATE_QOS": STATE_QOS, "LATCHED_QOS": LATCHED_QOS,
    "ANY_PUBLISHER_QOS": ANY_PUBLISHER_QOS, "DIAGNOSTICS_QOS": DIAGNOSTICS_QOS, "CLOCK_QOS": CLOCK_QOS,
    "OUTPUT_QOS": OUTPUT_QOS, "SHADOW_OUTPUT_QOS": SHADOW_OUTPUT_QOS, "COMMAND_INTAKE_QOS": COMMAND_INTAKE_QOS,
    **{f"ESTOP_QOS_FAMILIES[{i}]": q for i, q in enumerate(ESTOP_QOS_FAMILIES)},
    "RECORDER_INPUT_QOS": RECORDER_INPUT_QOS, "LATENCY_QOS": LATENCY_QOS, "COMMANDER_QOS": COMMANDER_QOS,
}

#: How a boolean launch argument or diagnostic value is spelled (launch's IfCondition reads the same words).
TRUE_WORDS = ("true", "1")
FALSE_WORDS = ("false", "0")

# ----------------------------------------------------------------------------- stamped effort commands

#: An effort command carries the stamp of the observation it answers (its image's header.stamp, nanoseconds) in
#: its layout: dim[0] = ("joints", n, n), dim[1] = (COMMAND_STAMP_LABEL + "<ns>", 1, 1), i.e. an n x 1 array whose
#: data is unchanged. Readers that ignore the layout (ros2_control, the sim, the recorder) see the plain efforts.
COMMAND_STAMP_LABEL = "stamp_ns="


def effort_command(efforts: Any, stamp_ns: int | None = None) -> Any:
    """std_msgs/Float64MultiArray of `efforts`, stamped with `stamp_ns` (COMMAND_STAMP_LABEL) when given."""
    from std_msgs.msg import Float64MultiArray, MultiArrayDimension

    data = [float(x) for x in efforts]
    msg = Float64MultiArray(data=data)
    if stamp_ns is not None:
        msg.layout.dim = [MultiArrayDimension(label="joints", size=len(data), stride=len(data)),
                          MultiArrayDimension(label=f"{COMMAND_STAMP_LABEL}{int(stamp_ns)}", size=1, stride=1)]
    return msg


def command_stamp_ns(msg: Any) -> int | None:
    """The stamp (ns) an effort command carries (see COMMAND_STAMP_LABEL); None when unstamped or unreadable."""
    for dim in getattr(getattr(msg, "layout", None), "dim", ()):
        label = str(getattr(dim, "label", ""))
        if label.startswith(COMMAND_STAMP_LABEL):
            try:
                return int(label[len(COMMAND_STAMP_LABEL):])
            except ValueError:
                return None
    return None


def stamp_ns(stamp: Any) -> int:
    """builtin_interfaces/Time -> integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


# ----------------------------------------------------------------------------- images

IMAGE_ENCODINGS = ("rgb8", "bgr8")


class ImageFormatError(ValueError):
    """An image message cannot be turned into an RGB frame (encoding, sizes or data length)."""


def image_msg_to_rgb(msg: Any) -> np.ndarray:
    """sensor_msgs/Image (rclpy or rosbags; rgb8 or bgr8, any row padding) -> a new HxWx3 uint8 RGB array.

    The frame keeps its size: cropping and resizing to the model's input is the tokenizer's alone
    (gato_ros.tokenizer.image.preprocess_image), the same for the agent, the recorder and training.
    """
    encoding, height, width, step = msg.encoding, int(msg.height), int(msg.width), int(msg.step)
    if encoding not in IMAGE_ENCODINGS:
        raise ImageFormatError(f"unsupported image encoding {encoding!r}; expected one of {IMAGE_ENCODINGS}")
    if height <= 0 or width <= 0:
        raise ImageFormatError(f"image has no pixels ({width}x{height})")
    if step < 3 * width:
        raise ImageFormatError(f"step {step} is smaller than 3 * width = {3 * width}")
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if buf.size != step * height:
        raise ImageFormatError(f"image data has {buf.size} bytes, expected step*height = {step}*{height} = "
                               f"{step * height}")
    img = buf.reshape(height, step)[:, : 3 * width].reshape(height, width, 3)
    out = np.empty((height, width, 3), np.uint8)
    out[...] = img[:, :, ::-1] if encoding == "bgr8" else img
    return out
