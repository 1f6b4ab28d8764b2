"""GatoTokenizer: the one tokenizer used by training, export, the agent node and the demo reader."""

from __future__ import annotations

import operator
from pathlib import Path

import numpy as np

from gato_ros.config import DECODING_MODES, GatoConfig
from gato_ros.episode import Episode
from gato_ros.interfaces import KINEMATIC_SIZE, OBJECT_EXTENTS_SIZE, OBJECT_STATE_SIZE, PROPRIO_SIZE
from gato_ros.observation import (
    GRASP_ALIGNMENT_SIZE, KINEMATIC_CLOSING_AXIS, KINEMATIC_VELOCITY, grasp_alignment, kinematic_features,
    proprio_from_joints,
)
from gato_ros.robot import RobotModel
from gato_ros.tokenizer.continuous import detokenize_continuous, inv_mu_law, tokenize_continuous, to_bins
from gato_ros.tokenizer.errors import TokenizerError
from gato_ros.tokenizer.image import image_to_patches, patch_spans, preprocess_image
from gato_ros.tokenizer.sequence import Modality, TokenSequence, block, concat, windows, with_prompt
from gato_ros.tokenizer.text import TextTokenizer


class GatoTokenizer:
    """Observation and action tokens for one gato.json; text needs the SentencePiece model (loaded lazily)."""

    def __init__(self, config: GatoConfig, model_dir: str | Path | None = None) -> None:
        self.config = config
        self.vocab = config.vocab
        self.tok = config.tokenizer
        self.action_scale = np.asarray(config.robot.action_scale, dtype=np.float64)
        self.effort_limit = np.asarray(config.robot.effort_limit, dtype=np.float64)
        self.spans = patch_spans(self.tok.image_height, self.tok.image_width, self.tok.patch_size)
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._text: TextTokenizer | None = None
        # loaded here for a kinematics model (parsing the URDF takes ~60 ms: not in a control step's deadline)
        self._arm: tuple[RobotModel, tuple[float, float, float]] | None = self._load_arm() if self.tok.kinematics \
            else None
        # which proprio / kinematics values become tokens: all, or without the velocities (tokenizer.velocities), or
        # without the arm joint velocities only (tokenizer.joint_velocities)
        arm = PROPRIO_SIZE // 2
        self._proprio_kept = np.arange(PROPRIO_SIZE) if self.tok.velocities and self.tok.joint_velocities else \
            np.r_[0:arm, 2 * arm:PROPRIO_SIZE]
        kinematic_size = KINEMATIC_SIZE + GRASP_ALIGNMENT_SIZE * self.tok.grasp_alignment
        self._kinematics_kept = np.arange(kinematic_size) if self.tok.velocities else \
            np.r_[0:KINEMATIC_VELOCITY[0], KINEMATIC_VELOCITY[1]:kinematic_size]

    @property
    def text_model_path(self) -> Path:
        """`model_dir/text_model` when that file exists, else the shipped `models_dir()/text_model`."""
        from gato_ros.paths import models_dir

        candidates = [self._model_dir / self.tok.text_model] if self._model_dir else []
        candidates.append(models_dir() / self.tok.text_model)
        return next((p for p in candidates if p.is_file()), candidates[0])

    @property
    def text(self) -> TextTokenizer:
        """The SentencePiece model, loaded on first use (only episodes with an instruction need it)."""
        if self._text is None:
            self._text = TextTokenizer(self.text_model_path, self.vocab.text_size)
        return self._text

    def _load_arm(self) -> tuple[RobotModel, tuple[float, float, float]]:
        from gato_ros.robot.registry import load_robot

        desc = load_robot(self.config.robot.name)
        return RobotModel.for_robot(desc), desc.base_position

    @property
    def arm(self) -> tuple[RobotModel, tuple[float, float, float]]:
        """The gato.json arm's kinematics (registry URDF) and its base position in the object poses' frame (what
        tokenizer.kinematics needs; loaded with the tokenizer for such a model, else on first use)."""
        if self._arm is None:
            self._arm = self._load_arm()
        return self._arm

    @property
    def num_actions(self) -> int:
        return len(self.action_scale)

    def _continuous(self, x: np.ndarray, mu_law: bool) -> np.ndarray:
        try:
            return tokenize_continuous(x, mu_law, self.tok.mu, self.tok.M, self.vocab.num_bins,
                                       self.vocab.continuous_offset)
        except ValueError as exc:
            raise TokenizerError(str(exc)) from exc

    def text_ids(self, text: str) -> np.ndarray:
        """SentencePiece ids of `text`, truncated to `max_text_tokens`."""
        if not isinstance(text, str):
            raise TokenizerError(f"text must be a str, got {type(text).__name__}")
        return self.text.encode(text)[: self.tok.max_text_tokens]

    def instruction(self, text: str | None) -> TokenSequence:
        """The instruction block: TEXT tokens without loss or local position, tagged timestep -1.

        Training puts it after the (optional) prompt and before the window's timesteps, where the runtime pins it,
        so every timestep is seen with the instruction in context and with the same local positions.
        """
        ids = self.text_ids(text) if text else np.zeros(0, np.int64)
        return block(ids, Modality.TEXT, self.tok.patch_size).without_loss().with_timestep(-1)

    def _vector(self, values: np.ndarray | None, size: int, what: str) -> np.ndarray:
        if values is None:
            raise TokenizerError(f"this gato.json's observation needs {what} ({size} values), got None")
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.shape != (size,):
            raise TokenizerError(f"{what} must have {size} values, got {values.shape[0]}")
        return values

    def observation(self, image: np.ndarray | None, proprio: np.ndarray, text: str | None = None,
                    objects: np.ndarray | None = None, extents: np.ndarray | None = None) -> TokenSequence:
        """`[text][image patches if use_image][proprio][objects if object_state][extents if object_extents]
        [kinematics if kinematics]['|']`.

        Local positions count the observation tokens from 0 (image patches always start at 0); text tokens have
        none, so a timestep looks the same whether or not the instruction precedes it.
        """
        parts = [self.instruction(text)] if text else []
        if self.tok.use_image:
            if image is None:
                raise TokenizerError("this gato.json's observation needs an image (tokenizer.use_image), got None")
            try:
                img = preprocess_image(image, self.tok.image_size)
            except ValueError as exc:
                raise TokenizerError(str(exc)) from exc
            patches = image_to_patches(img, self.tok.patch_size)
            parts.append(block(np.zeros(len(patches), np.int64), Modality.IMAGE, self.tok.patch_size,
                               patches=patches, patch_pos=self.spans))
        proprio = self._vector(proprio, PROPRIO_SIZE, "proprio (gato_ros.observation.proprio_from_joints)")
        parts.append(block(self._continuous(proprio[self._proprio_kept], self.tok.proprio_mu_law), Modality.CONTINUOUS,
                           self.tok.patch_size))
        if self.tok.object_state:
            objects = self._vector(objects, OBJECT_STATE_SIZE,
                                   "object state (gato_ros.observation.object_state_from_poses)")
            parts.append(block(self._continuous(objects, self.tok.proprio_mu_law), Modality.CONTINUOUS,
                               self.tok.patch_size))
        if self.tok.object_extents:
            extents = self._vector(extents, OBJECT_EXTENTS_SIZE, "object extents (StackingEnv.object_extents)")
            parts.append(block(self._continuous(extents, self.tok.proprio_mu_law), Modality.CONTINUOUS,
                               self.tok.patch_size))
        if self.tok.kinematics:
            kin = kinematic_features(*self.arm, proprio, objects)
            if self.tok.grasp_alignment:
                kin = np.concatenate([kin, grasp_alignment(kin[slice(*KINEMATIC_CLOSING_AXIS)], objects[3:7])])
            kin = kin[self._kinematics_kept]
            parts.append(block(self._continuous(kin, self.tok.proprio_mu_law), Modality.CONTINUOUS,
                               self.tok.patch_size))
        parts.append(block(np.array([self.vocab.separator_id]), Modality.SEPARATOR, self.tok.patch_size))
        seq = concat(parts)
        obs = seq.modality != int(Modality.TEXT)
        seq.local_pos[obs] = np.arange(int(obs.sum()), dtype=np.int64)
        return seq

    def action_ids(self, efforts: np.ndarray) -> np.ndarray:
        """Efforts (raw units) -> ids: divide by action_scale, clip to [-1, 1], bin (no mu-law by default)."""
        e = np.asarray(efforts, dtype=np.float64).reshape(-1)
        if e.shape != self.action_scale.shape:
            raise TokenizerError(f"expected {len(self.action_scale)} efforts (robot.joint_names order), "
                                 f"got {e.shape[0]}")
        scaled = e / self.action_scale
        if not self.tok.action_mu_law:
            scaled = np.clip(scaled, -1.0, 1.0)
        return self._continuous(scaled, self.tok.action_mu_law)

    def decoding_modes(self, decoding: str | None = None, gripper_decoding: str | None = None) -> tuple[str, ...]:
        """How each action value is read from its bins: `tokenizer.decoding` for the arm torques and
        `tokenizer.gripper_decoding` for the last action (the gripper's +-1 command), unless overridden."""
        arm, grip = decoding or self.tok.decoding, gripper_decoding or self.tok.gripper_decoding
        for mode in (arm, grip):
            if mode not in DECODING_MODES:
                raise TokenizerError(f"decoding must be one of {list(DECODING_MODES)}, got {mode!r}")
        return (arm,) * (self.num_actions - 1) + (grip,)

    def action_positions(self) -> np.ndarray:
        """Local positions of the action tokens: their dimension index (tokenizer.action_positions), else -1."""
        n = len(self.action_scale)
        return np.arange(n, dtype=np.int64) if self.tok.action_positions else np.full(n, -1, np.int64)

    def actions(self, efforts: np.ndarray) -> TokenSequence:
        """The action block: one ACTION token per joint, with loss, local position = its dimension index."""
        return self.action_block(self.action_ids(efforts))

    def action_block(self, ids: np.ndarray) -> TokenSequence:
        """The action block of given token ids (the runtime's decoded actions)."""
        return block(np.asarray(ids, np.int64), Modality.ACTION, self.tok.patch_size, local_pos=self.action_positions())

    def decode_action_token(self, index: int, token_id: int) -> float:
        """The effort (raw units) of action dimension `index` from its token id (its bin centre)."""
        try:
            tid = operator.index(token_id)
        except TypeError as exc:
            raise TokenizerError(f"action token id must be an integer, got {token_id!r}") from exc
        try:
            value = detokenize_continuous(np.array([tid], np.int64), False, self.tok.mu, self.tok.M,
                                          self.vocab.num_bins, self.vocab.continuous_offset)[0]
        except ValueError as exc:
            raise TokenizerError(f"action {index}: {exc}") from exc
        return self.decode_action_value(index, value)

    def decode_action_value(self, index: int, value: float) -> float:
        """The effort (raw units) of action dimension `index` from a value in the bins' [-1, 1] space (a bin centre
        or a continuous expected/median value): inverse mu-law if used, x action_scale, clipped to effort_limit."""
        if not 0 <= index < len(self.action_scale):
            raise TokenizerError(f"action index {index} outside [0, {len(self.action_scale)})")
        y = float(np.clip(value, -1.0, 1.0))
        x = float(inv_mu_law(y, self.tok.mu, self.tok.M)) if self.tok.action_mu_law else y
        limit = self.effort_limit[index]
        return float(np.clip(x * self.action_scale[index], -limit, limit))

    def value_token(self, value: float) -> int:
        """The id of the bin nearest to a value in [-1, 1] (what is fed back after continuous decoding)."""
        return int(to_bins(np.array([value]), self.vocab.num_bins)[0]) + self.vocab.continuous_offset

    def decode_actions(self, token_ids: np.ndarray) -> np.ndarray:
        """All action dimensions of one timestep from their token ids."""
        ids = np.asarray(token_ids).reshape(-1)
        if len(ids) != len(self.action_scale):
            raise TokenizerError(f"expected {len(self.action_scale)} action tokens, got {len(ids)}")
        return np.array([self.decode_action_token(i, t) for i, t in enumerate(ids)])

    def timestep(self, image: np.ndarray | None, proprio: np.ndarray, efforts: np.ndarray, t: int,
                 text: str | None = None, objects: np.ndarray | None = None,
                 extents: np.ndarray | None = None) -> TokenSequence:
        """Observation block then action block, all tagged with timestep `t`."""
        return concat([self.observation(image, proprio, text, objects, extents),
                       self.actions(efforts)]).with_timestep(t)

    def episode(self, ep: Episode) -> TokenSequence:
        """All timesteps of an episode, without its instruction (that is `instruction(ep.instruction)`)."""
        if len(ep) == 0:
            raise TokenizerError("cannot tokenize an empty episode")
        if tuple(ep.joint_names) != tuple(self.config.robot.joint_names):
            raise TokenizerError(f"episode joints {list(ep.joint_names)} differ from gato.json robot.joint_names "
                                 f"{list(self.config.robot.joint_names)}")
        if self.tok.object_state and ep.object_state is None:
            raise TokenizerError("this gato.json needs object state (tokenizer.object_state) but the episode has no "
                                 "object_state (record the demos with object poses)")
        if self.tok.object_state and ep.object_frame != self.tok.object_frame:
            raise TokenizerError(f"this gato.json's object poses are of each object's {self.tok.object_frame} frame "
                                 f"(tokenizer.object_frame) but the episode recorded its {ep.object_frame} frame "
                                 "(`gato-ros demos generate --object-frame`)")
        if self.tok.object_extents and ep.object_extents is None:
            raise TokenizerError("this gato.json needs object extents (tokenizer.object_extents) but the episode has "
                                 "none (generate the demos with `gato-ros demos generate`, which records them)")
        objects = ep.object_state if self.tok.object_state else [None] * len(ep)
        extents = ep.object_extents if self.tok.object_extents else [None] * len(ep)
        actions = ep.actions
        if self.config.robot.action_space == "cartesian":
            if ep.cartesian_commands is None:
                raise TokenizerError("this gato.json's actions are Cartesian commands (robot.action_space: cartesian) "
                                     "but the episode has none (generate the demos with `gato-ros demos generate`)")
            actions = ep.cartesian_commands
        steps = []
        for t in range(len(ep)):
            proprio = proprio_from_joints(ep.joint_positions[t], ep.joint_velocities[t])
            steps.append(self.timestep(ep.images[t] if self.tok.use_image else None, proprio, actions[t], t,
                                       objects=objects[t], extents=extents[t]))
        return concat(steps)

    def windows(self, seq: TokenSequence, length: int = 1024) -> list[TokenSequence]:
        """Consecutive windows of whole timesteps, each at most `length` tokens."""
        return windows(seq, length)

    def with_prompt(self, seq: TokenSequence, prompt_ep: Episode | TokenSequence | None, rng: np.random.Generator,
                    length: int = 1024, prompt_prob: float = 0.25, prompt_tokens: int = 256,
                    instruction: str | None = None) -> TokenSequence:
        """A training window [prompt][instruction][timesteps] (see `sequence.with_prompt`); `prompt_ep` is another
        episode of the same task."""
        prompt = self.episode(prompt_ep) if isinstance(prompt_ep, Episode) else prompt_ep
        return with_prompt(seq, prompt, length, rng, prompt_prob, prompt_tokens, self.instruction(instruction))

    def tokens_per_timestep(self, with_text: int = 0) -> int:
        """Tokens in one timestep (plus `with_text` instruction tokens)."""
        return (with_text + len(self.spans) * self.tok.use_image + len(self._proprio_kept)
                + OBJECT_STATE_SIZE * self.tok.object_state + OBJECT_EXTENTS_SIZE * self.tok.object_extents
                + len(self._kinematics_kept) * self.tok.kinematics + 1
                + len(self.action_scale))
