"""GatoPolicy on ONNX Runtime: equals full recomputation, keeps timestep boundaries, prompt pinning, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gato_ros.episode import Episode  # noqa: E402
from gato_ros.export.build import export_random, random_model  # noqa: E402
from gato_ros.runtime import (  # noqa: E402
    ContextOverflowError, GatoPolicy, InputShapeError, ModelLoadError, ProviderError,
)

ATOL = 1e-4  # ONNX Runtime fp32 vs PyTorch eager, logits of order 1


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_random("tiny", tmp_path_factory.mktemp("rt") / "tiny", seed=5)


def _size(policy: GatoPolicy) -> tuple[int, int]:
    tok = policy.config.tokenizer
    size = getattr(tok, "image_size", None) or (tok.image_height, tok.image_width)
    return int(size[0]), int(size[1])


def _inputs(policy: GatoPolicy, n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (*_size(policy), 3), dtype=np.uint8), rng.normal(size=15)) for _ in range(n)]


def _episode(policy: GatoPolicy, steps: int, seed: int = 1) -> Episode:
    rng = np.random.default_rng(seed)
    h, w = _size(policy)
    return Episode(images=rng.integers(0, 256, (steps, h, w, 3), dtype=np.uint8),
                   joint_positions=rng.normal(size=(steps, 8)), joint_velocities=rng.normal(size=(steps, 8)),
                   actions=rng.uniform(-1, 1, (steps, 8)) * np.array([80, 80, 40, 40, 9, 9, 9, 1]),
                   instruction="put the red object on the blue one", success=True)


def test_act_returns_efforts(model_dir: Path) -> None:
    policy = GatoPolicy(model_dir, provider="cpu")
    assert policy.provider == "cpu" and policy.context_tokens == 0
    image, proprio = _inputs(policy, 1)[0]
    efforts = policy.act(image, proprio)
    assert efforts.shape == (8,) and efforts.dtype == np.float64 and np.all(np.isfinite(efforts))
    assert np.all(np.abs(efforts) <= np.array([80, 80, 40, 40, 9, 9, 9, 1]) + 1e-9)  # robot.effort_limit
    assert policy.context_tokens == policy.window.total - 1  # the last action token waits for the next prefill


def test_instruction_is_text_of_the_first_timestep_only(model_dir: Path) -> None:
    policy = GatoPolicy(model_dir, provider="cpu")
    plain = GatoPolicy(model_dir, provider="cpu")
    (i0, p0), (i1, p1) = _inputs(policy, 2)
    policy.act(i0, p0, "put the red object on the blue one")
    plain.act(i0, p0)
    assert policy.window.total > plain.window.total  # the instruction's text tokens
    assert policy.window.steps[0] == plain.window.steps[0]  # pinned before the timestep, not inside it
    n_text = policy.window.instruction
    policy.act(i1, p1, "put the red object on the blue one")
    plain.act(i1, p1)
    assert list(policy.window.steps) == list(plain.window.steps) and policy.window.instruction == n_text
    policy.reset()
    assert policy.window.total == 0
    policy.act(i0, p0, "put the red object on the blue one")
    assert policy.window.total == n_text + plain.window.steps[0]


def test_cached_decode_equals_full_recomputation(model_dir: Path) -> None:
    """Each action token's logits from the ONNX cache equal PyTorch recomputing the whole sequence."""
    from gato_ros.bench.latency import TorchPolicy

    policy = GatoPolicy(model_dir, provider="cpu", max_context_tokens=1024, decoding="argmax",
                        gripper_decoding="argmax")
    model, _ = random_model("tiny", seed=5)
    naive = TorchPolicy(model, policy.tokenizer, policy.n_actions, 1024, cached=False)
    for image, proprio in _inputs(policy, 4):
        policy.act(image, proprio)
        bins = naive.act(image, proprio)
        np.testing.assert_allclose(policy.last_logits, naive.last_logits, atol=ATOL, rtol=1e-4)
        np.testing.assert_array_equal(policy.last_bins, bins)


def _torch_action_logits(model, window: list, n_actions: int = 8) -> np.ndarray:
    """The model run from scratch on a window (TokenSequences: prompt, instruction, timesteps; the last one's
    actions are the tokens the policy fed back): [n_actions, 1024] logits predicting the last timestep's actions."""
    import torch

    from gato_ros.tokenizer import collate, concat

    seq = concat(window)
    batch = collate([seq], len(seq))
    with torch.no_grad():
        x = model.embed(*(batch[k] for k in ("tokens", "modality", "local_pos", "patches", "patch_pos")))
        h, _, _ = model.transformer(x)
        first = len(seq) - n_actions - 1  # the separator predicts the first action
        return model.action_logits(h[0, first:first + n_actions]).numpy()


@pytest.mark.parametrize("decoding", ["expected", "argmax"])
def test_policy_equals_torch_on_the_training_window_through_evictions(model_dir: Path, decoding: str) -> None:
    """An episode longer than the window: at every step (evictions included) the policy's action logits equal the
    torch model's on [prompt][instruction][kept whole timesteps][this timestep], the window training builds."""
    from gato_ros.tokenizer import concat

    model, _ = random_model("tiny", seed=5)
    probe = GatoPolicy(model_dir, provider="cpu")
    step = probe.tokenizer.tokens_per_timestep()
    policy = GatoPolicy(model_dir, provider="cpu", max_context_tokens=7 * step, decoding=decoding)
    tok = policy.tokenizer
    prompt_ep = _episode(policy, 2)
    policy.set_prompt(prompt_ep)
    prompt = tok.episode(prompt_ep)
    assert policy.prompt_tokens == len(prompt)
    instruction = "put the red object on the blue one"
    timesteps = []
    for image, proprio in _inputs(policy, 16, seed=2):
        policy.act(image, proprio, instruction)
        assert policy.window.total <= policy.max_context_tokens
        timesteps.append(concat([tok.observation(image, proprio), tok.action_block(policy.last_bins + 32000)]))
        kept = timesteps[-len(policy.window.steps):]
        ref = _torch_action_logits(model, [prompt, tok.instruction(instruction), *kept])
        np.testing.assert_allclose(policy.last_logits, ref, atol=ATOL, rtol=1e-4)
    assert policy.reprefills >= 2 and len(policy.window.steps) < len(timesteps)
    assert policy.window.pinned == len(prompt) + len(tok.instruction(instruction))


def test_reset_restores_prompt_prefix(model_dir: Path) -> None:
    policy = GatoPolicy(model_dir, provider="cpu")
    policy.set_prompt(_episode(policy, 2))
    prompt = policy.context_tokens
    k0, v0 = policy.runner.cache_numpy()
    first = [policy.act(i, p) for i, p in _inputs(policy, 3, seed=7)]
    assert policy.context_tokens > prompt
    policy.reset()
    assert policy.context_tokens == prompt
    k1, v1 = policy.runner.cache_numpy()
    np.testing.assert_array_equal(k0, k1)
    np.testing.assert_array_equal(v0, v1)
    again = [policy.act(i, p) for i, p in _inputs(policy, 3, seed=7)]
    np.testing.assert_allclose(first, again)  # a new episode behaves exactly like the first one
    policy.set_prompt(None)
    assert policy.context_tokens == 0


def test_prompt_that_cannot_fit_is_cut_to_whole_timesteps(model_dir: Path) -> None:
    policy = GatoPolicy(model_dir, provider="cpu", max_context_tokens=256, max_prompt_tokens=128)
    policy.set_prompt(_episode(policy, 10))
    assert 0 < policy.prompt_tokens <= 128
    policy.act(*_inputs(policy, 1)[0])
    with pytest.raises(ContextOverflowError):
        GatoPolicy(model_dir, provider="cpu", max_context_tokens=8).act(*_inputs(policy, 1)[0])


def test_wrong_input_shapes(model_dir: Path) -> None:
    policy = GatoPolicy(model_dir, provider="cpu")
    image, proprio = _inputs(policy, 1)[0]
    with pytest.raises(InputShapeError, match="HxWx3 uint8"):
        policy.act(image[..., 0], proprio)
    with pytest.raises(InputShapeError, match="uint8"):
        policy.act(image.astype(np.float32), proprio)
    with pytest.raises(InputShapeError, match=r"\(15,\)"):
        policy.act(image, proprio[:7])
    with pytest.raises(InputShapeError, match="non-finite"):
        policy.act(image, np.full(15, np.nan))
    assert policy.context_tokens == 0  # nothing was appended


def _copy(model_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(model_dir, out)
    return out


def test_missing_and_corrupt_model_files(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        GatoPolicy(tmp_path / "nowhere")
    bad = _copy(model_dir, tmp_path)
    (bad / "decode.onnx").unlink()
    with pytest.raises(ModelLoadError, match="decode.onnx is missing"):
        GatoPolicy(bad, provider="cpu")
    shutil.rmtree(bad)
    bad = _copy(model_dir, tmp_path)
    (bad / "prefill.onnx").write_bytes(b"\x08\x07not an onnx graph" * 100)
    with pytest.raises(ModelLoadError, match="prefill.onnx cannot be loaded"):
        GatoPolicy(bad, provider="cpu")
    (bad / "gato.json").write_text("{ truncated")
    with pytest.raises(ModelLoadError, match="not a valid gato.json"):
        GatoPolicy(bad, provider="cpu")
    (bad / "gato.json").unlink()
    with pytest.raises(ModelLoadError, match="gato.json is missing"):
        GatoPolicy(bad, provider="cpu")


def test_gato_json_that_does_not_match_the_graph(model_dir: Path, tmp_path: Path) -> None:
    bad = _copy(model_dir, tmp_path)
    raw = json.loads((bad / "gato.json").read_text())
    raw["model"]["onnx"]["n_head"] += 1
    (bad / "gato.json").write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="does not match the graph"):
        GatoPolicy(bad, provider="cpu")
    raw["model"].pop("onnx")
    (bad / "gato.json").write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="no model.onnx section"):
        GatoPolicy(bad, provider="cpu")


def test_provider_choice(model_dir: Path) -> None:
    import onnxruntime as ort

    with pytest.raises(ProviderError, match="not one of"):
        GatoPolicy(model_dir, provider="tpu")
    auto = GatoPolicy(model_dir, provider="auto")
    assert auto.provider in ("cpu", "cuda")
    if auto.provider == "cpu":  # no working CUDA here: asking for it must fail loudly, not fall back
        with pytest.raises(ProviderError, match="cuda"):
            GatoPolicy(model_dir, provider="cuda")
    else:
        assert "CUDAExecutionProvider" in ort.get_available_providers()


def test_cache_slots_evict_by_moving_the_newest_tokens() -> None:
    """Evicting logical tokens fills their slots with the newest ones; the logical order and the prompt survive."""
    from gato_ros.runtime.kv import CacheSlots

    slots = CacheSlots(capacity=40)
    content = np.full(40, -1)
    for n in (5, 7, 6, 9, 4):  # prompt of 5, then four timesteps
        start = slots.append(n)
        content[start:start + n] = np.arange(start, start + n)  # token "ids" = the order they arrived in
    logical = content[slots.slots].copy()
    holes, movers = slots.evict(5, 12)  # the oldest timestep after the prompt
    content[holes] = content[movers]
    assert slots.length == 24 and holes.size == movers.size == 7 and set(movers) == set(range(24, 31))
    np.testing.assert_array_equal(content[slots.slots], np.concatenate([logical[:5], logical[12:]]))
    np.testing.assert_array_equal(slots.slots[:5], np.arange(5))  # the prompt never moves
    assert set(slots.slots) == set(range(24))  # used slots stay 0..length-1: new tokens go to the end
    slots.truncate(5)
    slots.append(10)
    slots.evict(5, 7)
    with pytest.raises(RuntimeError, match="not an unmoved prefix"):
        slots.truncate(8)
    with pytest.raises(ContextOverflowError):
        CacheSlots(4).append(5)


def test_device_buffer_path_equals_host_buffers(model_dir: Path) -> None:
    """The buffer path CUDA uses (OrtValues updated in place by write/move graphs, decode bound once), run on the
    CPU, acts exactly like the host path over a prompt and enough steps to evict, and its buffers never move."""
    from gato_ros.runtime.kv import KVRunner, OrtValueBuffers

    host = GatoPolicy(model_dir, provider="cpu", max_context_tokens=200)
    device = GatoPolicy(model_dir, provider="cpu", max_context_tokens=200)
    r = host.runner
    device.runner = KVRunner(r.prefill_sess, r.decode_sess, "cpu", (r.n_layer, r.n_head, r.head_dim), 200,
                             device_buffers=True)
    buffers = device.runner.buffers
    assert isinstance(buffers, OrtValueBuffers)
    addresses = buffers.k.data_ptr(), buffers.v.data_ptr()
    for policy in (host, device):
        policy.set_prompt(_episode(policy, 1))
    binding = None
    for image, proprio in _inputs(host, 8, seed=4):
        np.testing.assert_allclose(device.act(image, proprio), host.act(image, proprio))
        np.testing.assert_allclose(device.last_logits, host.last_logits, atol=1e-5)
        for a, b in zip(device.runner.cache_numpy(), host.runner.cache_numpy()):
            np.testing.assert_allclose(a, b, atol=1e-6)
        assert (buffers.k.data_ptr(), buffers.v.data_ptr()) == addresses  # updated in place, never reallocated
        binding = binding or device.runner._decode_binding
        assert device.runner._decode_binding is binding  # the decode pass is bound once
    assert 0 < len(host.window.steps) < 8  # older timesteps were evicted


def test_device_buffer_moves_in_place() -> None:
    """OrtValueBuffers.move (eviction on the device) copies exactly the moved slots, in place, like the host's."""
    from gato_ros.runtime.kv import NumpyBuffers, OrtValueBuffers

    rng = np.random.default_rng(0)
    host, device = NumpyBuffers(2, 3, 4, 16), OrtValueBuffers(2, 3, 4, 16, "cpu")
    new = rng.normal(size=(2, 2, 1, 3, 16, 4)).astype(np.float32)
    host.write(new[0], new[1], 0)
    device.write(*(ort_value(a) for a in new), 0)
    addresses = device.k.data_ptr(), device.v.data_ptr()
    holes, movers = np.array([2, 3, 7]), np.array([12, 13, 15])
    host.move(holes, movers)
    device.move(holes, movers)
    for a, b in zip(device.host(), host.host()):
        np.testing.assert_array_equal(a, b)
    assert (device.k.data_ptr(), device.v.data_ptr()) == addresses


def ort_value(array: np.ndarray):
    import onnxruntime as ort

    return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), "cpu", 0)


@pytest.mark.parametrize("kinematics, velocities, extents", [(False, True, False), (True, True, False),
                                                       (True, False, False), (True, True, True)])
def test_object_state_model_without_images(tmp_path: Path, kinematics: bool, velocities: bool, extents: bool) -> None:
    """A model observing [proprio][objects][extents if set][kinematics if set]['|'] (no image; without velocity tokens
    if `velocities` is false): exports, acts with image=None, equals torch across evictions, and says clearly when the
    object state (or extents) is missing."""
    import dataclasses

    from gato_ros.config import TokenizerConfig, default_config
    from gato_ros.export.onnx_export import write_model_dir
    from gato_ros.tokenizer import concat

    model, model_cfg = random_model("tiny", seed=2)
    config = dataclasses.replace(default_config(), tokenizer=TokenizerConfig(use_image=False, object_state=True,
                                                                             kinematics=kinematics,
                                                                             velocities=velocities,
                                                                             object_extents=extents),
                                 model={"name": "tiny", "context_window": 200, "prompt_tokens": 90})
    out = write_model_dir(model, config, tmp_path / "objects", model_cfg=model_cfg)
    policy = GatoPolicy(out, provider="cpu", decoding="median")
    assert policy.max_context_tokens == 200 and policy.max_prompt_tokens == 90  # from gato.json
    assert GatoPolicy(out, provider="cpu", max_context_tokens=4096).max_context_tokens == 200
    rng = np.random.default_rng(0)
    with pytest.raises(InputShapeError, match="object state"):
        policy.act(None, rng.normal(size=15))
    with pytest.raises(InputShapeError, match="21 finite"):
        policy.act(None, rng.normal(size=15), objects=np.zeros(20))
    if extents:
        with pytest.raises(InputShapeError, match="object extents"):
            policy.act(None, rng.normal(size=15), objects=np.zeros(21))
        with pytest.raises(InputShapeError, match="9 finite"):
            policy.act(None, rng.normal(size=15), objects=np.zeros(21), extents=np.full(9, np.inf))
    tok, timesteps = policy.tokenizer, []
    for _ in range(8):
        proprio, objects = rng.normal(size=15), rng.normal(size=21)
        sizes = rng.uniform(0.01, 0.08, size=9) if extents else None
        efforts = policy.act(None, proprio, "stack", objects=objects, extents=sizes)
        assert efforts.shape == (8,) and policy.window.steps[-1] == {(False, True, False): 45, (True, True, False): 66,
                                                                     (True, False, False): 56, (True, True, True): 75
                                                                     }[kinematics, velocities, extents]
        timesteps.append(concat([tok.observation(None, proprio, objects=objects, extents=sizes),
                                 tok.action_block(policy.last_bins + 32000)]))
        ref = _torch_action_logits(model, [tok.instruction("stack"), *timesteps[-len(policy.window.steps):]])
        np.testing.assert_allclose(policy.last_logits, ref, atol=ATOL, rtol=1e-4)
    assert len(policy.window.steps) < len(timesteps)  # the window moved (evictions)


def test_decoding_modes_and_fed_back_token(model_dir: Path) -> None:
    """expected/median give the continuous value (not a bin centre); the fed-back token is its nearest bin."""
    from gato_ros.tokenizer import read_bins, to_bins

    image, proprio = _inputs(GatoPolicy(model_dir, provider="cpu"), 1)[0]
    for mode in ("argmax", "expected", "median"):
        policy = GatoPolicy(model_dir, provider="cpu", decoding=mode, gripper_decoding=mode)
        efforts = policy.act(image, proprio)
        values = read_bins(policy.last_logits, mode)
        np.testing.assert_array_equal(policy.last_bins, to_bins(values))
        np.testing.assert_allclose(efforts[:7], values[:7] * np.array([80, 80, 40, 40, 9, 9, 9]))
    policy = GatoPolicy(model_dir, provider="cpu", decoding="expected", gripper_decoding="argmax")
    efforts = policy.act(image, proprio)  # the gripper's +-1 switch is read at its most likely bin, not averaged
    assert policy.decoding == ("expected",) * 7 + ("argmax",)
    np.testing.assert_allclose(efforts[7], np.clip(read_bins(policy.last_logits[7], "argmax") * 2.0, -1, 1))
    np.testing.assert_allclose(efforts[:7], read_bins(policy.last_logits[:7], "expected")
                               * np.array([80, 80, 40, 40, 9, 9, 9]))
    for bad in ({"decoding": "mean"}, {"gripper_decoding": "mean"}):
        with pytest.raises(ValueError, match="decoding"):
            GatoPolicy(model_dir, provider="cpu", **bad)


@pytest.mark.parametrize("action_inputs", ["values", "positions"])
def test_regression_head_model_exports_and_acts_its_value(tmp_path: Path, action_inputs: str) -> None:
    """action_head: regression (and action_inputs: positions) go through the same ONNX graphs and KV runtime: the
    policy's logits equal torch's and its expected-decoded effort is the head's value (inverse scaling of
    `action_value`), through an eviction."""
    import dataclasses

    import torch

    from gato_ros.config import TokenizerConfig, default_config
    from gato_ros.export.onnx_export import write_model_dir
    from gato_ros.model.gato import CONFIGS, Gato
    from gato_ros.tokenizer import collate, concat

    torch.manual_seed(3)
    model_cfg = dataclasses.replace(CONFIGS["tiny"], action_head="regression", action_inputs=action_inputs)
    model = Gato(model_cfg).eval()
    config = dataclasses.replace(default_config(), tokenizer=TokenizerConfig(use_image=False, object_state=True),
                                 model={"name": "tiny", "context_window": 160, "prompt_tokens": 0})
    out = write_model_dir(model, config, tmp_path / "regression", model_cfg=model_cfg)
    policy = GatoPolicy(out, provider="cpu", decoding="expected", gripper_decoding="expected")
    assert policy.config.model["action_head"] == "regression"
    tok, timesteps, rng = policy.tokenizer, [], np.random.default_rng(1)
    for _ in range(5):
        proprio, objects = rng.normal(size=15), rng.normal(size=21)
        efforts = policy.act(None, proprio, "stack", objects=objects)
        timesteps.append(concat([tok.observation(None, proprio, objects=objects),
                                 tok.action_block(policy.last_bins + 32000)]))
        window = [tok.instruction("stack"), *timesteps[-len(policy.window.steps):]]
        np.testing.assert_allclose(policy.last_logits, _torch_action_logits(model, window), rtol=1e-4, atol=1e-2)
        seq = concat(window)
        batch = collate([seq], len(seq))
        with torch.no_grad():
            x = model.embed(*(batch[k] for k in ("tokens", "modality", "local_pos", "patches", "patch_pos")))
            h, _, _ = model.transformer(x)
            values = model.action_value(h[0, len(seq) - 9:len(seq) - 1]).numpy()
        expect = [tok.decode_action_value(i, float(v)) for i, v in enumerate(values)]
        np.testing.assert_allclose(efforts, expect, rtol=1e-3, atol=1e-3 * np.abs(tok.action_scale).max())
    assert len(policy.window.steps) < len(timesteps)  # the window moved (evictions)


def test_cartesian_model_returns_the_impedance_torques_of_its_decoded_command(tmp_path: Path) -> None:
    """robot.action_space: cartesian: 7 action tokens per step; `act` returns the arm torques the impedance
    controller (home posture) gives for the decoded move and turn at this joint state, plus the gripper command;
    training tokenizes the episode's Cartesian commands and refuses an episode without them."""
    import dataclasses

    from gato_ros.config import RobotConfig, TokenizerConfig, default_config
    from gato_ros.control import CartesianImpedanceController
    from gato_ros.export.onnx_export import write_model_dir
    from gato_ros.robot.registry import load_robot
    from gato_ros.tokenizer import TokenizerError, read_bins

    model, model_cfg = random_model("tiny", seed=4)
    config = dataclasses.replace(default_config(), robot=RobotConfig().cartesian(),
                                 tokenizer=TokenizerConfig(use_image=False, object_state=True, kinematics=True),
                                 model={"name": "tiny", "context_window": 160, "prompt_tokens": 0})
    out = write_model_dir(model, config, tmp_path / "cartesian", model_cfg=model_cfg)
    policy = GatoPolicy(out, provider="cpu")
    assert policy.n_actions == 7 and policy.window.total == 0
    ctrl = CartesianImpedanceController(policy.tokenizer.arm[0])
    ctrl.set_posture(np.asarray(load_robot().home_q))
    rng = np.random.default_rng(3)
    home = np.asarray(load_robot().home_q)
    for _ in range(3):
        proprio = np.concatenate([home + rng.normal(0, 0.05, 7), rng.normal(0, 0.1, 7), [0.2]])
        efforts = policy.act(None, proprio, "stack", objects=np.tile([0.0, 0.0, 0.05, 1, 0, 0, 0], 3))
        command = policy.last_command
        assert efforts.shape == (8,) and command.shape == (7,) and policy.window.steps[-1] == 58 + 7
        modes = policy.decoding
        decoded = [policy.tokenizer.decode_action_value(i, float(read_bins(policy.last_logits[i], modes[i])))
                   for i in range(7)]
        np.testing.assert_allclose(command, decoded)
        assert np.all(np.abs(command[:6]) <= np.asarray(config.robot.effort_limit[:6]) + 1e-12)
        np.testing.assert_allclose(efforts[:7], ctrl.lead_torques(proprio[:7], proprio[7:14], command[:6]))
        assert efforts[7] == command[6]
    ep = _episode(policy, 3)
    ep.object_state = np.tile([0.0, 0.0, 0.05, 1, 0, 0, 0], (3, 3))
    with pytest.raises(TokenizerError, match="Cartesian commands"):
        policy.tokenizer.episode(ep)
    ep.cartesian_commands = np.zeros((3, 7))
    assert len(policy.tokenizer.episode(ep)) == 3 * (58 + 7)


def _banded_dir(tmp_path: Path, band: int) -> tuple[Path, object]:
    """A randomly initialised tiny model with `attention_timesteps` = band, exported."""
    import dataclasses

    import torch

    from gato_ros.config import default_config
    from gato_ros.export.onnx_export import write_model_dir
    from gato_ros.model.gato import CONFIGS, Gato

    torch.manual_seed(5)
    cfg = dataclasses.replace(CONFIGS["tiny"], attention_timesteps=band)
    model = Gato(cfg).eval()
    return write_model_dir(model, default_config(), tmp_path / f"band{band}", model_cfg=cfg), model


@pytest.mark.parametrize("band, room", [(2, 3), (6, 4)])
def test_banded_policy_rolls_its_cache_and_equals_torch_on_the_whole_episode(tmp_path: Path, band: int,
                                                                             room: int) -> None:
    """attention_timesteps = 2 with room for the band (3 timesteps and the token before them): every step rolls
    one timestep out and never prefills again, and the action logits equal the banded torch model run from scratch
    on the whole episode so far (prompt, instruction, every timestep). A band of 6 with room for 4 timesteps falls
    back to re-prefilling the kept window, which then equals the torch model on that window."""
    import torch

    from gato_ros.tokenizer import collate, concat

    model_dir, model = _banded_dir(tmp_path, band)
    probe = GatoPolicy(model_dir, provider="cpu")
    assert probe.band == json.loads((model_dir / "gato.json").read_text())["model"]["attention_timesteps"] == band
    tok, step = probe.tokenizer, probe.tokenizer.tokens_per_timestep()
    prompt_ep = _episode(probe, 2)
    prompt = tok.episode(prompt_ep).with_timestep(-1)
    instruction = tok.instruction("put the red object on the blue one")
    context = len(prompt) + len(instruction) + room * step + 1  # + the action token fed in with an observation
    policy = GatoPolicy(model_dir, provider="cpu", max_context_tokens=context, max_prompt_tokens=len(prompt))
    policy.set_prompt(prompt_ep)
    assert policy.prompt_tokens == len(prompt)
    timesteps = []
    for t, (image, proprio) in enumerate(_inputs(policy, 12, seed=2)):
        policy.act(image, proprio, "put the red object on the blue one")
        timesteps.append(concat([tok.observation(image, proprio),
                                 tok.action_block(policy.last_bins + 32000)]).with_timestep(t))
        seen = timesteps if room > band else timesteps[-len(policy.window.steps):]
        seq = concat([prompt, instruction, *seen])
        first = len(seq) - policy.n_actions - 1
        with torch.no_grad():
            h = model.hidden(collate([seq], len(seq)))
            ref = model.action_logits(h[0, first:first + policy.n_actions]).numpy()
        np.testing.assert_allclose(policy.last_logits, ref, atol=ATOL, rtol=1e-4)
    if room > band:
        assert policy.reprefills == 0 and list(policy.window.steps) == [1, step, step, step]
    else:
        assert policy.reprefills >= 2
