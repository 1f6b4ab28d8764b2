"""A teleop episode recorded through EpisodeBagWriter (as the recorder streams it) prompts the agent's policy."""

import numpy as np

from gato_ros.demos.bag import EpisodeBagWriter, read_episode  # noqa: E402


def test_teleop_recording_is_a_prompt_demo(tmp_path):
    from gato_ros.export.build import export_random
    from gato_ros.observation import proprio_from_joints
    from gato_ros.robot import RobotModel, default_urdf_path
    from gato_ros.runtime import GatoPolicy
    from gato_ros.sim import StackingEnv
    from gato_ros.teleop import TeleopController

    env = StackingEnv(cell="primitive")
    teleop = TeleopController(RobotModel.from_file(default_urdf_path()))
    obs = env.reset(4)
    bag = tmp_path / "teleop_demo"
    with EpisodeBagWriter(bag, "stack the red object on the blue object", source="teleop") as w:
        for step in range(30):  # 1.5 s: down, then close the gripper
            t_ns = 1_000_000 + step * 50_000_000
            w.image(obs.image, t_ns)
            w.joint_state(list(env.joint_names), obs.q, obs.qd, obs.effort, t_ns)
            efforts = teleop.step(obs.q, obs.qd, np.array([0, 0, -0.05, 0, 0, 0]), float(step >= 20), 0.05)
            w.command(efforts, t_ns + 1)
            obs = env.step(efforts)
        w.close(False)
    env.close()
    ep = read_episode(bag)
    assert len(ep) == 30 and ep.source == "teleop" and ep.actions[-1, 7] == 1.0 and ep.actions[0, 7] == -1.0

    policy = GatoPolicy(export_random("tiny", tmp_path / "tiny", seed=1), provider="cpu")
    policy.set_prompt(ep)
    with_prompt = policy.context_tokens
    assert with_prompt > 0
    action = policy.act(ep.images[-1], proprio_from_joints(ep.joint_positions[-1], ep.joint_velocities[-1]),
                        ep.instruction)
    assert action.shape == (8,) and np.all(np.isfinite(action))
    policy.set_prompt(None)
    assert policy.context_tokens < with_prompt
