"""Sequencing: timestep layout, loss mask, positions, windows, prompt conditioning, collate, bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gato_ros.config import default_config
from gato_ros.episode import Episode
from gato_ros.observation import proprio_from_joints
from gato_ros.tokenizer import (
    GatoTokenizer, Modality, TokenizerError, collate, image_to_patches, patch_spans, prompt_slice,
    tokenize_continuous, windows, with_prompt,
)

TOK = GatoTokenizer(default_config())
PER_STEP = 16 + 15 + 1 + 8  # 64x64 image -> 16 patches, proprio 15, '|', 8 actions


def _episode(t=2, instruction="stack the red object on the blue object", seed=0):
    rng = np.random.default_rng(seed)
    return Episode(
        images=rng.integers(0, 255, (t, 64, 64, 3), dtype=np.uint8),
        joint_positions=rng.normal(size=(t, 8)), joint_velocities=rng.normal(size=(t, 8)),
        actions=rng.normal(size=(t, 8)) * 5, instruction=instruction,
    )


def test_modality_values_are_the_contract():
    assert [int(m) for m in Modality] == [0, 1, 2, 3, 4, 5, 6]
    assert [m.name for m in Modality] == ["TEXT", "IMAGE", "DISCRETE", "CONTINUOUS", "SEPARATOR", "ACTION", "PAD"]


def test_two_timestep_episode_layout_mask_and_positions():
    ep = _episode()
    seq = TOK.episode(ep)  # timesteps only: the instruction is its own block (TOK.instruction)
    assert len(seq) == 2 * PER_STEP
    expected_t = [Modality.IMAGE] * 16 + [Modality.CONTINUOUS] * 15 + [Modality.SEPARATOR] + [Modality.ACTION] * 8
    assert seq.modality.tolist() == [int(m) for m in expected_t * 2]
    assert seq.tokens.dtype == np.int64 and seq.modality.dtype == np.int8 and seq.local_pos.dtype == np.int64
    assert seq.patches.dtype == np.float32 and seq.patch_pos.dtype == np.float32
    assert seq.loss_mask.dtype == np.float32 and seq.timestep.dtype == np.int64
    # token ids: 0 for image patches, mu-law proprio, '|', scaled actions without mu-law
    for t, off in ((0, 0), (1, PER_STEP)):
        assert (seq.tokens[off:off + 16] == 0).all()
        proprio = proprio_from_joints(ep.joint_positions[t], ep.joint_velocities[t])
        assert seq.tokens[off + 16:off + 31].tolist() == tokenize_continuous(proprio, mu_law=True).tolist()
        assert seq.tokens[off + 31] == 33024
        scaled = np.clip(ep.actions[t] / np.array([80, 80, 40, 40, 9, 9, 9, 2.0]), -1, 1)
        assert seq.tokens[off + 32:off + 40].tolist() == tokenize_continuous(scaled, mu_law=False).tolist()
        assert np.array_equal(seq.patches[off:off + 16], image_to_patches(ep.images[t]))
        assert np.array_equal(seq.patch_pos[off:off + 16], patch_spans(64, 64))
    # loss only on actions
    assert seq.loss_mask.tolist() == ([0.0] * 32 + [1.0] * 8) * 2
    # local positions: 0.. over the observation block (separator included), the dimension index on actions
    assert seq.local_pos.tolist() == (list(range(32)) + list(range(8))) * 2
    assert seq.timestep.tolist() == [0] * PER_STEP + [1] * PER_STEP
    assert (seq.patch_pos[seq.modality != Modality.IMAGE] == 0).all()
    assert (seq.patches[seq.modality != Modality.IMAGE] == 0).all()
    assert seq.timestep_starts().tolist() == [0, PER_STEP]
    # the instruction block: text ids, no loss, no local position, timestep -1
    instr = TOK.instruction(ep.instruction)
    assert instr.tokens.tolist() == TOK.text.encode(ep.instruction).tolist()
    assert (instr.modality == Modality.TEXT).all() and instr.loss_mask.sum() == 0
    assert (instr.local_pos == -1).all() and (instr.timestep == -1).all() and len(TOK.instruction("")) == 0
    # an observation with text keeps the same observation positions as one without
    obs_text = TOK.observation(ep.images[0], proprio_from_joints(ep.joint_positions[0], ep.joint_velocities[0]),
                               ep.instruction)
    n_text = len(instr)
    assert obs_text.local_pos.tolist() == [-1] * n_text + list(range(32))
    # actions decode back within half a bin of the (clipped) efforts
    acts = seq.tokens[seq.modality == Modality.ACTION].reshape(2, 8)
    decoded = np.stack([TOK.decode_actions(a) for a in acts])
    limit = np.asarray(TOK.config.robot.effort_limit)
    assert np.abs(decoded - np.clip(ep.actions, -limit, limit)).max() <= (TOK.action_scale / 1024).max() + 1e-9


def test_object_state_and_image_free_observation():
    """[proprio 15][objects 21, mu-law]['|']: 37 observation tokens, 45 per timestep; clear errors when missing."""
    import dataclasses

    from gato_ros.config import TokenizerConfig

    tok = GatoTokenizer(dataclasses.replace(default_config(),
                                            tokenizer=TokenizerConfig(use_image=False, object_state=True)))
    ep = _episode(t=3)
    with pytest.raises(TokenizerError, match="object_state"):
        tok.episode(ep)
    ep.object_state = np.random.default_rng(0).normal(size=(3, 21))
    seq = tok.episode(ep)
    assert len(seq) == 3 * 45 == 3 * tok.tokens_per_timestep() and not (seq.modality == Modality.IMAGE).any()
    assert seq.tokens[15:36].tolist() == tokenize_continuous(ep.object_state[0], mu_law=True).tolist()
    assert seq.local_pos[:45].tolist() == list(range(37)) + list(range(8))
    obs = tok.observation(None, np.zeros(15), objects=np.zeros(21))
    assert len(obs) == 37
    with pytest.raises(TokenizerError, match="object state"):
        tok.observation(None, np.zeros(15))
    with pytest.raises(TokenizerError, match="21 values"):
        tok.observation(None, np.zeros(15), objects=np.zeros(20))
    with pytest.raises(TokenizerError, match="needs an image"):
        TOK.observation(None, np.zeros(15))


def test_kinematic_features_follow_the_object_state():
    """tokenizer.kinematics: [proprio 15][objects 21][kinematics 21]['|']: 66 tokens per timestep, the features being
    gato_ros.observation.kinematic_features of the same proprio and objects (FK of the gato.json arm)."""
    import dataclasses

    from gato_ros.config import ConfigError, TokenizerConfig
    from gato_ros.observation import kinematic_features

    tok = GatoTokenizer(dataclasses.replace(default_config(), tokenizer=TokenizerConfig(
        use_image=False, object_state=True, kinematics=True)))
    ep = _episode(t=2)
    ep.object_state = np.random.default_rng(0).normal(size=(2, 21))
    seq = tok.episode(ep)
    assert len(seq) == 2 * 66 == 2 * tok.tokens_per_timestep()
    proprio = proprio_from_joints(ep.joint_positions[1], ep.joint_velocities[1])
    expected = tokenize_continuous(kinematic_features(*tok.arm, proprio, ep.object_state[1]), mu_law=True)
    assert seq.tokens[66 + 36: 66 + 57].tolist() == expected.tolist()
    assert seq.local_pos[:66].tolist() == list(range(58)) + list(range(8))
    with pytest.raises(ConfigError, match="needs object_state"):
        TokenizerConfig(use_image=False, kinematics=True)


def _kinematics_tokenizer(**overrides: bool) -> GatoTokenizer:
    """An image-free tokenizer with object state and kinematic features, plus `overrides` of its tokenizer config."""
    import dataclasses

    from gato_ros.config import TokenizerConfig

    return GatoTokenizer(dataclasses.replace(default_config(), tokenizer=TokenizerConfig(
        use_image=False, object_state=True, kinematics=True, **overrides)))


def _objects_episode(t: int):
    ep = _episode(t=t)
    ep.object_state = np.random.default_rng(0).normal(size=(t, 21))
    return ep


def test_without_velocities_the_tokens_drop_qd_and_the_pinch_velocity():
    """tokenizer.velocities: false: proprio tokens are q (7) and the gripper (1), the kinematics lose the pinch
    velocity (3): 8 + 21 + 18 + '|' + 8 actions = 56 tokens per timestep, the rest unchanged; velocities then cannot
    change the tokens at all."""
    from gato_ros.observation import kinematic_features

    full, blind = _kinematics_tokenizer(), _kinematics_tokenizer(velocities=False)
    ep = _objects_episode(2)
    seq, ref = blind.episode(ep), full.episode(ep)
    assert len(seq) == 2 * 56 == 2 * blind.tokens_per_timestep()
    proprio = proprio_from_joints(ep.joint_positions[1], ep.joint_velocities[1])
    kin = kinematic_features(*blind.arm, proprio, ep.object_state[1])
    expected = np.concatenate([tokenize_continuous(proprio[[*range(7), 14]], mu_law=True),
                               ref.tokens[66 + 15: 66 + 36],
                               tokenize_continuous(np.r_[kin[:9], kin[12:]], mu_law=True)])
    assert seq.tokens[56: 56 + 47].tolist() == expected.tolist()
    assert seq.tokens[56 + 47:].tolist() == ref.tokens[66 + 57:].tolist()  # separator and actions
    ep.joint_velocities = ep.joint_velocities + 1.0
    assert blind.episode(ep).tokens.tolist() == seq.tokens.tolist()
    assert full.episode(ep).tokens.tolist() != ref.tokens.tolist()


def test_without_joint_velocities_the_pinch_velocity_stays():
    """tokenizer.joint_velocities: false drops the 7 arm joint velocities only: 8 + 21 + 21 + '|' + 8 = 59 tokens, the
    kinematic features (pinch velocity included) unchanged."""
    full, noqd = _kinematics_tokenizer(), _kinematics_tokenizer(joint_velocities=False)
    ep = _objects_episode(1)
    seq, ref = noqd.episode(ep), full.episode(ep)
    assert len(seq) == 59 == noqd.tokens_per_timestep()
    proprio = proprio_from_joints(ep.joint_positions[0], ep.joint_velocities[0])
    assert seq.tokens[:8].tolist() == tokenize_continuous(proprio[[*range(7), 14]], mu_law=True).tolist()
    assert seq.tokens[8:].tolist() == ref.tokens[15:].tolist()  # objects, kinematics, '|', actions


def test_windows_with_prompt_and_instruction_look_like_the_runtime_context():
    """[prompt timesteps, no loss][instruction, no loss][whole timesteps], within the length."""
    seq, prompt = TOK.episode(_episode(t=20)), TOK.episode(_episode(t=10, seed=1))
    instr = TOK.instruction("stack the red object on the blue object")
    rng = np.random.default_rng(0)
    for _ in range(20):
        w = with_prompt(seq, prompt, 300, rng, prompt_prob=1.0, prompt_tokens=120, instruction=instr)
        n_prompt = int(((w.timestep == -1) & (w.modality != Modality.TEXT)).sum())
        assert n_prompt % PER_STEP == 0 and n_prompt <= 120 and len(w) <= 300
        assert w.modality[n_prompt:n_prompt + len(instr)].tolist() == [Modality.TEXT] * len(instr)
        assert w.loss_mask[:n_prompt + len(instr)].sum() == 0
        body = w[n_prompt + len(instr):]
        assert (len(body) % PER_STEP == 0) and body.local_pos[0] == 0 and (body.timestep >= 0).all()


def test_episode_without_instruction_and_tokens_per_timestep():
    seq = TOK.episode(_episode(t=3, instruction=""))
    assert len(seq) == 3 * PER_STEP == 3 * TOK.tokens_per_timestep()
    assert not (seq.modality == Modality.TEXT).any() and seq.local_pos[0] == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(PER_STEP + 20, 700), st.booleans())
def test_property_windows_partition_on_timestep_boundaries(steps, length, with_text):
    seq = TOK.episode(_episode(t=steps, instruction="stack the red object on the blue object" if with_text else ""))
    wins = windows(seq, length)
    assert np.array_equal(np.concatenate([w.tokens for w in wins]), seq.tokens)  # nothing lost or repeated
    starts = seq.timestep_starts().tolist() + [len(seq)]
    pos = 0
    for w in wins:
        assert 0 < len(w) <= length and pos in starts and w.local_pos[0] == 0
        pos += len(w)
        if pos < len(seq):  # greedy: adding the next whole timestep would overflow the window
            assert len(w) + (starts[starts.index(pos) + 1] - pos) > length


def test_windows_of_the_default_1024_and_too_small_windows():
    seq = TOK.episode(_episode(t=60))
    wins = TOK.windows(seq)
    steps = 1024 // PER_STEP
    assert len(wins[0]) == len(wins[1]) == steps * PER_STEP and int(wins[1].timestep[0]) == steps
    assert all(len(w) <= 1024 for w in wins) and sum(len(w) for w in wins) == len(seq)
    with pytest.raises(ValueError, match="more than the window"):
        windows(seq, PER_STEP - 1)


def test_prompt_conditioning_rate_budget_and_seeding():
    seq = TOK.episode(_episode(t=30, instruction=""))
    prompt_ep = _episode(t=12, instruction="", seed=1)
    prompt = TOK.episode(prompt_ep)
    got = [with_prompt(seq, prompt, 400, np.random.default_rng(i), prompt_prob=1.0) for i in range(40)]
    for g in got:
        head = g.timestep == -1
        assert len(g) <= 400 and head.any() and (g.loss_mask[head] == 0).all()
        assert head[:head.sum()].all()  # the prompt comes first
        assert head.sum() <= 200 and head.sum() % PER_STEP == 0  # whole timesteps, at most half the window
        body = g[int(head.sum()):len(g)]
        assert body.local_pos[0] == 0 and (body.loss_mask[body.modality == Modality.ACTION] == 1).all()
    flags = [with_prompt(seq, prompt, 400, np.random.default_rng(i)).timestep.min() == -1 for i in range(800)]
    assert 0.20 < np.mean(flags) < 0.30  # 25% of sequences get a prompt
    a = with_prompt(seq, prompt, 400, np.random.default_rng(7), prompt_prob=1.0)
    b = TOK.with_prompt(seq, prompt_ep, np.random.default_rng(7), length=400, prompt_prob=1.0)
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.patches, b.patches)  # seeded: reproducible
    assert with_prompt(seq, None, 400, np.random.default_rng(0), prompt_prob=1.0).timestep.min() >= 0


def test_prompt_slice_half_goal_half_uniform():
    prompt = TOK.episode(_episode(t=20, instruction="", seed=2))
    budget = 3 * PER_STEP
    end_taken, starts = 0, set()
    for i in range(400):
        s = prompt_slice(prompt, budget, np.random.default_rng(i))
        assert 0 < len(s) <= budget and len(s) % PER_STEP == 0
        first = int(s.timestep[0])
        starts.add(first)
        end_taken += int(s.timestep[-1]) == 19 and len(s) == budget
    assert 0.45 < end_taken / 400 < 0.70  # goal half (always ends the episode) + uniform slices that happen to
    assert len(starts) >= 15  # uniform half: starts spread over the episode


def test_collate_pads_with_pad_modality_and_no_loss():
    seqs = [TOK.episode(_episode(t=t, instruction="")) for t in (1, 3)]
    batch = collate(seqs, 200)
    assert set(batch) == {"tokens", "modality", "local_pos", "patches", "patch_pos", "loss_mask", "timestep"}
    assert batch["tokens"].shape == (2, 200) and batch["patches"].shape == (2, 200, 3, 16, 16)
    assert batch["tokens"].dtype == torch.int64 and batch["patches"].dtype == torch.float32
    pad = batch["modality"] == Modality.PAD
    assert pad[0].sum() == 200 - PER_STEP and pad[1].sum() == 200 - 3 * PER_STEP
    assert (batch["tokens"][pad] == 33025).all() and (batch["loss_mask"][pad] == 0).all()
    assert (batch["local_pos"][pad] == -1).all()
    assert torch.equal(batch["tokens"][1, :3 * PER_STEP], torch.from_numpy(seqs[1].tokens))
    assert collate(seqs)["tokens"].shape == (2, 3 * PER_STEP)
    with pytest.raises(ValueError, match="longer than the batch"):
        collate(seqs, 50)


def test_bad_input_raises_tokenizer_error():
    img = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(TokenizerError, match="15 values"):
        TOK.observation(img, np.zeros(14))
    with pytest.raises(TokenizerError, match="non-finite"):
        TOK.observation(img, np.full(15, np.nan))
    with pytest.raises(TokenizerError, match="RGB"):
        TOK.observation(np.zeros((64, 64), np.uint8), np.zeros(15))
    with pytest.raises(TokenizerError, match="8 efforts"):
        TOK.actions(np.zeros(7))
    with pytest.raises(TokenizerError, match="outside the continuous range"):
        TOK.decode_action_token(0, 100)
    with pytest.raises(TokenizerError, match="integer"):
        TOK.decode_action_token(0, 32000.5)
    with pytest.raises(TokenizerError, match="action index"):
        TOK.decode_action_token(8, 32000)
    ep = _episode()
    ep.joint_names = list(reversed(ep.joint_names))
    with pytest.raises(TokenizerError, match="differ from gato.json"):
        TOK.episode(ep)
    assert TOK.decode_action_token(0, torch.tensor(33023)) == pytest.approx(80 * (1 - 1 / 1024))


def test_observation_with_text_as_the_agent_builds_it():
    img = np.full((128, 128, 3), 255, np.uint8)  # camera size: resized to 64x64
    obs = TOK.observation(img, np.linspace(-3, 3, 15), text="stack the red object on the blue object")
    n_text = int((obs.modality == Modality.TEXT).sum())
    assert n_text > 0 and len(obs) == n_text + 32 and obs.tokens[-1] == 33024
    assert obs.local_pos.tolist() == [-1] * n_text + list(range(32)) and (obs.timestep[n_text:] == 0).all()
    assert obs.loss_mask.tolist() == [0.0] * (n_text + 32)  # the instruction is conditioning, not a target
    assert np.allclose(obs.patches[obs.modality == Modality.IMAGE], 0.25)
    assert ((obs.tokens[n_text + 16:n_text + 31] >= 32000) & (obs.tokens[n_text + 16:n_text + 31] < 33024)).all()


def test_windows_within_the_first_steps_start_there_and_uniform_ones_cover_the_episode():
    """`within=k` starts every window among the first k timesteps (the train YAML's start_prob/start_steps); the
    default draw reaches the whole episode."""
    seq, instr = TOK.episode(_episode(t=30)), TOK.instruction("stack the red object on the blue object")
    rng = np.random.default_rng(0)
    early = {int(with_prompt(seq, None, 2 * PER_STEP + len(instr), rng, 0.0, 0, instr, within=3).timestep[len(instr)])
             for _ in range(200)}
    anywhere = {int(with_prompt(seq, None, PER_STEP + len(instr), rng, 0.0, 0, instr).timestep[len(instr)])
                for _ in range(400)}
    assert early == {0, 1, 2} and max(anywhere) > 20
