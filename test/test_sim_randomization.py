"""Domain randomization (gato_ros.sim.randomization) on the real MuJoCo cell: presets, reproducibility per seed,
every perturbation within its stated bounds, nominal values restored between episodes, and its use by
`demos generate` and `eval --direct`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gato_ros.sim.env import StackingEnv
from gato_ros.sim.randomization import PRESETS, Randomization, RandomizationError, load, preset_path

ZERO = np.zeros(8)


def _model_values(env: StackingEnv) -> dict[str, np.ndarray]:
    m = env.model
    return {k: np.array(getattr(m, k)) for k in ("cam_pos", "cam_quat", "cam_fovy", "light_diffuse", "light_pos",
                                                 "geom_rgba", "geom_size", "geom_friction", "body_mass",
                                                 "dof_damping", "dof_frictionloss", "dof_armature",
                                                 "actuator_gainprm", "actuator_biasprm")}


def test_presets_load_and_bad_input_is_refused(tmp_path: Path) -> None:
    assert [load(p).name for p in PRESETS] == list(PRESETS)
    assert not load("none").enabled and load("mild").enabled and load("").name == "none"
    strong, mild = load("strong"), load("mild")
    assert strong.joint_damping > mild.joint_damping > 0
    with pytest.raises(RandomizationError, match="neither a preset"):
        load("medium")
    bad = tmp_path / "bad.yaml"
    bad.write_text("joint_dampin: 0.2\n")
    with pytest.raises(RandomizationError, match="unknown randomization setting"):
        load(bad)
    for text, match in (("joint_damping: -0.1\n", ">= 0"), ("torque_gain: 1.5\n", "< 1"), ("camera_fovy_deg: x\n",
                                                                                          "number")):
        bad.write_text(text)
        with pytest.raises(RandomizationError, match=match):
            load(bad)
    assert Randomization(joint_damping=0.5).scaled(3.0).joint_damping < 1  # relative ones stay below 1
    assert preset_path("mild").is_file()


def test_none_is_the_nominal_cell() -> None:
    a, b = StackingEnv(), StackingEnv(randomization="none")
    oa, ob = a.reset(3), b.reset(3)
    for _ in range(3):
        oa, ob = a.step(ZERO), b.step(ZERO)
    assert np.array_equal(oa.q, ob.q) and np.array_equal(oa.image, ob.image)
    assert b._randomizer is None
    # the machinery alone (restore, draw nothing, recompute constants) changes nothing either: it once left the
    # gripper closed after reset (mj_setConst on the episode's data)
    c = StackingEnv(randomization=Randomization(name="tiny", color_hue=1e-12))
    oc = c.reset(3)
    for _ in range(3):
        oc = c.step(ZERO)
    np.testing.assert_allclose(oc.q, oa.q, atol=1e-9)


def test_strong_is_reproducible_per_seed_and_restores_nominal_values() -> None:
    env = StackingEnv(randomization="strong")
    nominal = _model_values(StackingEnv())
    runs = []
    for seed in (4, 5, 4):
        obs = env.reset(seed)
        values = _model_values(env)
        for _ in range(4):
            obs = env.step(np.array([5.0, -5.0, 2.0, 0.0, 0.5, 0.0, 0.0, -1.0]))
        runs.append((values, obs))
    (v4, o4), (v5, o5), (v4b, o4b) = runs
    for k in v4:
        np.testing.assert_array_equal(v4[k], v4b[k], err_msg=k)  # same seed, same draws (no compounding)
    assert np.array_equal(o4.q, o4b.q) and np.array_equal(o4.image, o4b.image)
    assert not np.array_equal(v4["dof_damping"], v5["dof_damping"]) and not np.array_equal(o4.q, o5.q)
    assert v4["cam_fovy"].shape == nominal["cam_fovy"].shape
    assert not np.array_equal(v4["cam_pos"], nominal["cam_pos"])


def test_perturbations_stay_within_their_bounds() -> None:
    rand = load("strong")
    nominal_env = StackingEnv()
    nominal = _model_values(nominal_env)
    env = StackingEnv(randomization=rand)
    arm = env._arm_qvel
    for seed in range(6):
        env.reset(seed)
        nominal_env.reset(seed)
        nominal = _model_values(nominal_env)
        v = _model_values(env)
        assert np.all(np.abs(v["cam_pos"] - nominal["cam_pos"]) <= rand.camera_position_m + 1e-12)
        assert np.all(np.abs(v["cam_fovy"] - nominal["cam_fovy"]) <= rand.camera_fovy_deg + 1e-9)
        for name, attr in (("joint_damping", "dof_damping"), ("joint_friction", "dof_frictionloss"),
                           ("joint_armature", "dof_armature")):
            ratio = v[attr][arm] / nominal[attr][arm]
            x = getattr(rand, name)
            assert np.all((ratio >= 1 - x - 1e-9) & (ratio <= 1 + x + 1e-9)), name
        gain = v["actuator_gainprm"][env._arm_act, 0]
        assert np.all(np.abs(gain - 1.0) <= rand.torque_gain + 1e-9)
        bias = v["actuator_biasprm"][env._arm_act, 0]
        assert np.all(np.abs(bias) <= rand.torque_bias * env.effort_limits[:7] + 1e-9)
        for color, body in env._obj_body.items():
            (g,) = [g for g in range(env.model.ngeom) if env.model.geom_bodyid[g] == body]
            rgba = v["geom_rgba"][g]
            assert int(np.argmax(rgba[:3])) == {"red": 0, "green": 1, "blue": 2}[color]  # colour stays in class
            size = v["geom_size"][g][v["geom_size"][g] > 0] / nominal["geom_size"][g][nominal["geom_size"][g] > 0]
            assert np.allclose(size, size[0]) and abs(size[0] - 1) <= rand.object_size + 1e-9  # uniform scale
            k = v["body_mass"][body] / nominal["body_mass"][body] / size[0] ** 3
            assert abs(k - 1) <= rand.object_mass + 1e-9


def test_noise_and_bias_act_on_the_arm() -> None:
    still = StackingEnv()
    still.reset(2)
    q0 = still.observe(render=False).q
    for _ in range(10):
        obs = still.step(ZERO)
    assert np.allclose(obs.q[:7], q0[:7], atol=1e-3)  # nominal: zero torque on gravcomp keeps it still
    biased = StackingEnv(randomization=Randomization(name="bias", torque_bias=0.05))
    biased.reset(2)
    for _ in range(10):
        obs = biased.step(ZERO)
    assert np.max(np.abs(obs.q[:7] - q0[:7])) > 0.01  # a constant bias drifts the arm
    noisy = StackingEnv(randomization=Randomization(name="enc", joint_position_noise=0.002,
                                                    joint_velocity_noise=0.02))
    noisy.reset(2)
    true_q = noisy.data.qpos[noisy._arm_qpos].copy()
    samples = np.array([noisy.observe(render=False).q[:7] - true_q for _ in range(400)])
    assert 0.0017 < samples.std() < 0.0023 and abs(samples.mean()) < 3e-4


def test_demos_and_direct_eval_take_a_randomization(tmp_path: Path) -> None:
    from gato_ros.demos.generate import generate_demos
    from gato_ros.eval.direct import DirectConfig, evaluate_direct

    rows = generate_demos(tmp_path / "demos", episodes=1, seed=7, max_steps=4, progress=False, workers=1,
                          randomization="mild")
    assert rows[0]["steps"] == 4
    summary = json.loads((tmp_path / "demos" / "summary.json").read_text())
    assert summary["randomization"] == "mild"
    out = evaluate_direct(DirectConfig(expert=True, episodes=1, max_steps=4, workers=1, out_dir=tmp_path / "eval",
                                       progress=False, randomization="strong"))
    assert out["randomization"] == "strong" and out["overall"]["episodes"] == 1
    with pytest.raises(ValueError, match="neither a preset"):
        DirectConfig(expert=True, randomization="nonsense")


def test_sim_node_parameter_selects_the_randomization(ros_env: dict[str, str]) -> None:
    """The sim node's `randomization` parameter (launch argument randomization:=...) reaches its env; camera_info
    follows the field of view drawn for the episode."""
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from gato_ros.nodes.sim import SimNode

    ctx = Context()
    rclpy.init(context=ctx)
    try:
        node = SimNode(context=ctx, parameter_overrides=[Parameter("randomization", value="strong"),
                                                         Parameter("real_time_factor", value=0.0)])
        try:
            assert node.env.randomization.name == "strong"
            f = node._info.k[4]
            fovy = float(node.env.model.cam_fovy[node.env.model.camera(node.config.camera).id])
            assert f == pytest.approx(0.5 * node.config.image_height / np.tan(np.radians(fovy) / 2))
            assert fovy != 35.0
        finally:
            node.env.close()
            node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
