"""gato.json: defaults, exact round trip, and a clear ConfigError for every kind of bad file."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gato_ros.interfaces import JOINT_NAMES
from gato_ros.config import ConfigError, GatoConfig, RobotConfig, TokenizerConfig, VocabConfig, default_config


def test_defaults_are_the_documented_layout():
    cfg = default_config()
    assert (cfg.vocab.text_size, cfg.vocab.num_bins, cfg.vocab.continuous_offset) == (32000, 1024, 32000)
    assert (cfg.vocab.separator_id, cfg.vocab.pad_id, cfg.vocab.vocab_size) == (33024, 33025, 33026)
    t = cfg.tokenizer
    assert (t.mu, t.M, t.patch_size, t.image_height, t.image_width, t.num_pos_bins) == (100, 256, 16, 64, 64, 128)
    assert t.text_model == "tokenizer/gato_text.model" and t.proprio_mu_law and not t.action_mu_law
    assert t.camera == "basket_front_left" and t.num_patches == 16
    assert cfg.robot.joint_names == JOINT_NAMES and len(JOINT_NAMES) == 8
    assert t.use_image and not t.object_state and t.action_positions and t.decoding == "expected"
    assert cfg.robot.action_scale == (80, 80, 40, 40, 9, 9, 9, 2)  # gripper +-1 -> +-0.5, off the clipping bins
    assert cfg.robot.effort_limit == (80, 80, 40, 40, 9, 9, 9, 1)
    assert t.gripper_decoding == "expected" and cfg.format_version == 3
    assert cfg.control_rate_hz == 20.0 and cfg.num_actions == 8 and cfg.model == {}


def test_version_2_files_read_with_the_gripper_decoded_like_the_arm(tmp_path):
    data = default_config().to_dict()
    data["format_version"] = 2
    del data["tokenizer"]["gripper_decoding"]
    data["tokenizer"]["decoding"] = "median"
    cfg = GatoConfig.from_dict(data)
    assert cfg.format_version == 3 and cfg.tokenizer.gripper_decoding == "median"
    data["format_version"] = 1
    with pytest.raises(ConfigError, match="format_version 1"):
        GatoConfig.from_dict(data)


def test_save_load_round_trip(tmp_path):
    cfg = default_config(name="tiny", n_layer=2, onnx={"prefill": "prefill.onnx"})
    cfg.save(tmp_path / "gato.json")
    back = GatoConfig.load(tmp_path / "gato.json")
    assert back == cfg
    assert isinstance(back.robot.action_scale, tuple) and isinstance(back.robot.joint_names, tuple)
    assert json.loads((tmp_path / "gato.json").read_text())["vocab"]["separator_id"] == 33024
    assert not list(tmp_path.glob("*.tmp"))


def _written(tmp_path, mutate):
    data = default_config().to_dict()
    mutate(data)
    path = tmp_path / "gato.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.update(oops=1), r"unknown keys \['oops'\]"),
    (lambda d: d["vocab"].update(extra=1), r"'vocab': unknown keys \['extra'\]"),
    (lambda d: d.pop("robot"), r"missing keys \['robot'\]"),
    (lambda d: d["tokenizer"].pop("mu"), r"'tokenizer': missing keys \['mu'\]"),
    (lambda d: d.update(format_version=1), "format_version 1 is not supported"),
    (lambda d: d.update(format_version=4), "format_version 4 is not supported"),
    (lambda d: d["tokenizer"].update(decoding="mean"), "tokenizer.decoding must be one of"),
    (lambda d: d["tokenizer"].update(object_state="yes"), "tokenizer.object_state has the wrong type.*true or false"),
    (lambda d: d["robot"].update(effort_limit=[1.0] * 7), "8 joint_names but 7 effort_limit"),
    (lambda d: d.update(vocab=[1]), "'vocab' must be an object"),
    (lambda d: d.update(model="tiny"), "'model' must be an object"),
    (lambda d: d["tokenizer"].update(patch_size="16"), "tokenizer.patch_size has the wrong type"),
    (lambda d: d["tokenizer"].update(proprio_mu_law=1), "tokenizer.proprio_mu_law has the wrong type"),
    (lambda d: d["tokenizer"].update(image_height=60), "not a multiple of patch_size"),
    (lambda d: d["tokenizer"].update(text_model="/etc/x.model"), "relative path"),
    (lambda d: d["tokenizer"].update(mu=0), "tokenizer.mu must be positive"),
    (lambda d: d["vocab"].update(separator_id=32500), "collides"),
    (lambda d: d["vocab"].update(pad_id=33024), "both 33024"),
    (lambda d: d["vocab"].update(vocab_size=33025), "not below vocab_size"),
    (lambda d: d["robot"].update(action_scale=[1.0] * 7), "8 joint_names but 7 action_scale"),
    (lambda d: d["robot"].update(action_scale=[80, 80, 40, 40, 9, 9, 0, 1]), "positive"),
    (lambda d: d["robot"].update(joint_names=["a"] * 8), "duplicates"),
    (lambda d: d.update(control_rate_hz="fast"), "control_rate_hz must be a number"),
    (lambda d: d.update(control_rate_hz=-1), "control_rate_hz must be positive"),
])
def test_bad_files_raise_config_error_naming_the_problem(tmp_path, mutate, match):
    path = _written(tmp_path, mutate)
    with pytest.raises(ConfigError, match=match) as info:
        GatoConfig.load(path)
    assert str(path) in str(info.value)  # the message says which file


def test_unreadable_files(tmp_path):
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        GatoConfig.load(tmp_path / "broken.json")
    with pytest.raises(ConfigError, match="does not exist"):
        GatoConfig.load(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ConfigError, match="must be a JSON object"):
        GatoConfig.load(tmp_path / "list.json")


def test_frozen_and_constructor_validation():
    cfg = default_config()
    with pytest.raises(Exception):
        cfg.vocab.pad_id = 1  # frozen
    with pytest.raises(ConfigError):
        VocabConfig(continuous_offset=31000)
    with pytest.raises(ConfigError):
        TokenizerConfig(image_width=70)
    with pytest.raises(ConfigError):
        RobotConfig(joint_names=("a",), action_scale=(1.0, 2.0))
    assert TokenizerConfig(mu=50).mu == 50.0 and isinstance(TokenizerConfig(mu=50).mu, float)


@settings(max_examples=40, deadline=None)
@given(
    mu=st.floats(1, 1000), big_m=st.floats(1, 1e4), side=st.integers(1, 8), rate=st.floats(0.5, 1000),
    scale=st.lists(st.floats(0.01, 500), min_size=8, max_size=8), model=st.dictionaries(
        st.text(min_size=1, max_size=8), st.one_of(st.integers(-5, 5), st.text(max_size=5)), max_size=4),
)
def test_property_any_valid_config_round_trips_through_json(mu, big_m, side, rate, scale, model):
    cfg = GatoConfig(tokenizer=TokenizerConfig(mu=mu, M=big_m, image_height=16 * side, image_width=16 * (9 - side)),
                     robot=RobotConfig(action_scale=tuple(scale)), model=model, control_rate_hz=rate)
    assert GatoConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_cartesian_action_space_layout_round_trip_and_old_files():
    """robot.action_space: cartesian has 7 actions (move, turn, gripper) bounded by the expert's per-step leads; it
    survives gato.json; a file written before the field reads as effort; unknown spaces are refused."""
    import dataclasses

    from gato_ros.interfaces import CARTESIAN_COMMAND_NAMES, CARTESIAN_MAX_STEP, CARTESIAN_MAX_TURN
    from gato_ros.sim.expert import ExpertConfig

    robot = RobotConfig().cartesian()
    assert robot.action_space == "cartesian" and robot.action_names == CARTESIAN_COMMAND_NAMES
    assert robot.effort_limit == (CARTESIAN_MAX_STEP,) * 3 + (CARTESIAN_MAX_TURN,) * 3 + (1.0,)
    assert robot.action_scale[-1] == 2.0 and robot.joint_names == JOINT_NAMES
    assert (ExpertConfig().fast_step, ExpertConfig().turn_step) == (CARTESIAN_MAX_STEP, CARTESIAN_MAX_TURN)
    cfg = dataclasses.replace(default_config(), robot=robot)
    back = GatoConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.num_actions == 7
    old = default_config().to_dict()
    del old["robot"]["action_space"], old["tokenizer"]["kinematics"], old["tokenizer"]["velocities"]
    loaded = GatoConfig.from_dict(old)  # files written before these fields existed
    assert loaded.robot.action_space == "effort" and not loaded.tokenizer.kinematics and loaded.tokenizer.velocities
    with pytest.raises(ConfigError, match="action_space"):
        dataclasses.replace(robot, action_space="joint_position")
    with pytest.raises(ConfigError, match="7 cartesian actions but 8 action_scale"):
        dataclasses.replace(robot, action_scale=RobotConfig().action_scale)
