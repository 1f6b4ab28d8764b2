"""The real-asset cell (installed dm-robotics meshes): builds, matches the primitive cell's interface, renders fast."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gato_ros.sim import StackingEnv, assets, scene
from gato_ros.sim.env import HOME_Q

try:
    assets.sawyer_xml()
    assets.basket_xml()
except assets.AssetsNotInstalledError as exc:  # pragma: no cover - depends on the install
    pytest.skip(f"real-asset cell needs the dm-robotics packages: {exc}", allow_module_level=True)


@pytest.fixture(scope="module")
def env() -> StackingEnv:
    return StackingEnv(cell="real", object_set="rgb_test_triplet2")


def test_real_cell_uses_the_genuine_meshes(env) -> None:
    m = env.model
    mesh_names = {m.mesh(i).name for i in range(m.nmesh)}
    assert {"l0", "l6", "red_mesh", "blue_mesh"} <= mesh_names
    assert any(n.startswith("basket/") for n in mesh_names)
    assert env.object_names == ("r5", "g2", "b3")
    for name in scene.CAMERAS:
        assert m.camera(name).id >= 0


def test_real_cell_reset_step_and_hold(env) -> None:
    obs = env.reset(seed=3)
    np.testing.assert_allclose(obs.q[:7], HOME_Q, atol=2e-3)
    for _ in range(6):
        obs = env.step(np.r_[np.zeros(7), -1.0])
    np.testing.assert_allclose(obs.q[:7], HOME_Q, atol=5e-3)
    poses = env.object_poses()
    for color, (pos, _) in poses.items():
        assert abs(pos[0]) < 0.15 and abs(pos[1]) < 0.15 and 0.0 < pos[2] < 0.1, (color, pos)
    assert not obs.success


def test_high_poly_meshes_are_hidden_from_cameras(env) -> None:
    m = env.model
    for g in range(m.ngeom):
        if m.geom_type[g] == 7 and m.mesh_facenum[m.geom_dataid[g]] > scene.HIGH_POLY_FACES:
            assert m.geom_group[g] == scene.HIDDEN_GROUP
    env.render()
    start = time.perf_counter()
    for _ in range(10):
        img = env.render()
    per_frame = (time.perf_counter() - start) / 10
    assert img.shape == (64, 64, 3) and img.std() > 5
    assert per_frame < 0.1  # ~7-11 ms here; 120 ms with shadows and all meshes
