"""GatoPolicy: the agent's ONNX Runtime policy with a KV cache, a pinned (prefix-cached) prompt and a sliding window.

The context is laid out the way training builds its windows (`GatoTokenizer.with_prompt`): [prompt timesteps]
[instruction][whole timesteps of this episode]. Each `act` appends one timestep: the previous timestep's last
action token and this observation block are prefilled in one call, then one action token per joint is decoded
(value ids only, each with its dimension position) and fed back. When a timestep does not fit, the oldest
timesteps are dropped down to half the episode budget and the kept ones are prefilled again after the pinned
prompt and instruction, so the cache always equals the model run from scratch on a training-like window. A model
trained with `attention_timesteps` = m (a timestep sees the pinned tokens and the previous m timesteps) instead
rolls its oldest timestep out of the cache as it leaves the band and never prefills again: each cached token was
computed with exactly the keys the band let it see, so the cache equals the banded model run on the whole episode.
A model whose actions are Cartesian commands (gato.json robot.action_space: cartesian) decodes the command and
turns it into arm torques with the impedance controller the sim expert uses, so `act` returns efforts either way.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np


from gato_ros.interfaces import OBJECT_EXTENTS_SIZE, OBJECT_STATE_SIZE, PROPRIO_SIZE
from gato_ros.runtime.errors import ContextOverflowError, InputShapeError, ModelLoadError
from gato_ros.runtime.kv import KVRunner
from gato_ros.runtime.model_files import check_graphs, graph_meta, load_config
from gato_ros.runtime.providers import open_sessions
from gato_ros.runtime.window import TimestepWindow
from gato_ros.tokenizer import GatoTokenizer, TokenizerError, TokenSequence, concat, read_bins

LOG = logging.getLogger("gato_ros.runtime")
EVICT_FRACTION = 0.5  # on overflow, keep at most this fraction of the episode budget (then re-prefill it)


class GatoPolicy:
    """Gato policy over an exported model directory (see `gato-ros export`).

    `max_context_tokens` and `max_prompt_tokens` default to the training window and prompt budget in gato.json
    (`model.context_window`, `model.prompt_tokens`); a larger context is capped at the training window.
    `decoding` (argmax | expected | median | mode) and `gripper_decoding` default to gato.json's `tokenizer.decoding`
    (arm torques) and `tokenizer.gripper_decoding` (the gripper command).
    """

    def __init__(self, model_dir: str | Path, provider: str = "auto", max_context_tokens: int | None = None,
                 max_prompt_tokens: int | None = None, threads: int = 0, decoding: str | None = None,
                 gripper_decoding: str | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.config = load_config(self.model_dir)
        self.meta = graph_meta(self.config, self.model_dir)
        (prefill, decode), self.provider = open_sessions(
            [self.model_dir / self.meta.prefill, self.model_dir / self.meta.decode], provider, threads)
        check_graphs(self.meta, prefill, decode, self.model_dir)
        self.tokenizer = self._tokenizer()
        self.n_actions = self.config.num_actions
        self.controller = self._controller() if self.config.robot.action_space == "cartesian" else None
        self.last_command = np.zeros(self.n_actions, np.float64)  # the last decoded action (efforts or command)
        try:
            self.decoding = self.tokenizer.decoding_modes(decoding, gripper_decoding)  # one mode per action
        except TokenizerError as exc:
            raise ValueError(str(exc)) from exc
        # a model attends no further back than it was trained to: its training window caps the context
        model = self.config.model or {}
        trained = int(model.get("context_window") or 0)
        context = int(max_context_tokens or trained or 1024)
        self.max_context_tokens = min(context, trained) if trained else context
        budget = min(int(model.get("prompt_tokens") or self.max_context_tokens), self.max_context_tokens // 2)
        self.max_prompt_tokens = int(max_prompt_tokens or budget)
        self.runner = KVRunner(prefill, decode, self.provider, self.meta.cache_dims, capacity=self.max_context_tokens,
                               n_logits=self.meta.action_vocab_size)
        self.window = TimestepWindow(self.max_context_tokens)
        self.action_positions = self.tokenizer.action_positions()
        self._steps = 0  # timesteps acted in this episode
        self._history: deque[TokenSequence] = deque()  # the tokens of each timestep in the window (re-prefill)
        self._pending = False  # the last timestep's last action token is not in the cache yet
        self.last_bins = np.zeros(self.n_actions, np.int64)  # value bins fed back by the last act()
        self.last_logits = np.zeros((self.n_actions, self.meta.action_vocab_size), np.float32)
        self.reprefills = 0  # evictions so far that prefilled kept timesteps again
        self.band = int(model.get("attention_timesteps") or 0)  # > 0: rolling cache of the last `band` timesteps
        self._band_warned = False

    def _tokenizer(self) -> GatoTokenizer:
        try:
            return GatoTokenizer(self.config, self.model_dir)
        except Exception as exc:
            raise ModelLoadError(f"tokenizer files in {self.model_dir} cannot be loaded: "
                                 f"{type(exc).__name__}: {exc}") from exc

    # ------------------------------------------------------------------ prompt and episodes
    @property
    def context_tokens(self) -> int:
        """Tokens now in the KV cache (prompt included)."""
        return self.runner.length

    @property
    def prompt_tokens(self) -> int:
        return self.window.prompt

    def set_prompt(self, episode: Any | None) -> None:
        """Prefill a demonstration once and pin it at the front of the cache (None: no prompt); resets the episode."""
        self.runner.truncate(0)
        self._new_episode()
        if episode is None or len(episode) == 0:
            self.window.set_prompt(0)
            return
        seq = self.tokenizer.episode(episode)
        start, reserve = self._prompt_start(seq.timestep)
        prompt = seq[start:]
        self.window.set_prompt(len(prompt), reserve=reserve)
        self.runner.prefill(prompt)  # pinned: slots [0, prompt) are never moved, so reset() just truncates
        LOG.info("prompt: %d tokens (%d timesteps dropped from its start)", len(prompt),
                 int(seq.timestep[start]) if start else 0)

    def _prompt_start(self, timestep: np.ndarray) -> tuple[int, int]:
        """First token of the prompt kept: the latest whole timesteps within max_prompt_tokens; and one step's size."""
        change = np.flatnonzero(np.diff(timestep)) + 1
        starts = np.concatenate([[0], change]).astype(int)
        reserve = int(np.max(np.diff(np.concatenate([starts, [len(timestep)]]))))
        budget = min(self.max_prompt_tokens, self.max_context_tokens - reserve)
        for s in starts:
            if len(timestep) - s <= budget:
                return int(s), reserve
        return len(timestep), reserve

    def _controller(self) -> Any:
        """The impedance controller a Cartesian command goes through (the gato.json arm's URDF, the sim expert's
        gains, its null-space posture at the arm's home configuration)."""
        from gato_ros.control import CartesianImpedanceController
        from gato_ros.robot.registry import load_robot

        controller = CartesianImpedanceController(self.tokenizer.arm[0])
        controller.set_posture(np.asarray(load_robot(self.config.robot.name).home_q, dtype=np.float64))
        return controller

    def reset(self) -> None:
        """New episode: the cache goes back to the prefilled prompt."""
        self.runner.truncate(self.window.prompt)
        self.window.reset()
        self._new_episode()

    def _new_episode(self) -> None:
        self._history.clear()
        self._pending = False
        self._steps = 0

    # ------------------------------------------------------------------ control step
    def _make_room(self, incoming: int) -> int:
        """Evict before a timestep of `incoming` tokens; returns the timesteps dropped that force a re-prefill of the
        kept ones (0: the cache is still the model's own computation). A banded model first rolls out the timesteps
        that left its band (slots reused, nothing recomputed); only if the context still cannot hold the band does
        it fall back to the re-prefill eviction."""
        if self.band:
            tokens, n = self.window.roll(self.band)
            if tokens:
                self.runner.evict(self.window.pinned, self.window.pinned + tokens)
                for _ in range(n):
                    self._history.popleft()
                if self.window.steps[0] == 1:  # the oldest timestep is down to its last action token
                    self._history[0] = self._history[0][-1:]
            if self.window.total + incoming <= self.window.max_tokens:
                return 0
            if not self._band_warned:
                LOG.warning("context of %d tokens cannot hold the model's %d-timestep band after a %d-token prompt: "
                            "evicting with re-prefills (slower steps)", self.window.max_tokens, self.band,
                            self.window.pinned)
                self._band_warned = True
        return self.window.evict_to_fraction(incoming, EVICT_FRACTION)

    def _check_inputs(self, image: Any, proprio: Any, objects: Any, extents: Any
                      ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None, np.ndarray | None]:
        tok = self.config.tokenizer
        if tok.use_image:
            if image is None:
                raise InputShapeError("this model observes an image (gato.json tokenizer.use_image): got None")
            image = np.asarray(image)
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
                raise InputShapeError(f"image must be an HxWx3 uint8 RGB array, got shape {image.shape} "
                                      f"dtype {image.dtype}")
        proprio = np.asarray(proprio, dtype=np.float64)
        if proprio.shape != (PROPRIO_SIZE,):
            raise InputShapeError(f"proprio must have shape ({PROPRIO_SIZE},) (7 arm positions, 7 arm velocities, "
                                  f"gripper position), got {proprio.shape}")
        if not np.all(np.isfinite(proprio)):
            raise InputShapeError(f"proprio has non-finite values: {proprio}")
        if tok.object_state:
            if objects is None:
                raise InputShapeError("this model observes object state (gato.json tokenizer.object_state): pass "
                                      "objects=gato_ros.observation.object_state_from_poses(...)")
            objects = np.asarray(objects, dtype=np.float64)
            if objects.shape != (OBJECT_STATE_SIZE,) or not np.all(np.isfinite(objects)):
                raise InputShapeError(f"objects must be {OBJECT_STATE_SIZE} finite values, got shape {objects.shape}")
        if tok.object_extents:
            if extents is None:
                raise InputShapeError("this model observes object extents (gato.json tokenizer.object_extents): pass "
                                      f"extents= ({OBJECT_EXTENTS_SIZE} values, StackingEnv.object_extents())")
            extents = np.asarray(extents, dtype=np.float64)
            if extents.shape != (OBJECT_EXTENTS_SIZE,) or not np.all(np.isfinite(extents)):
                raise InputShapeError(f"extents must be {OBJECT_EXTENTS_SIZE} finite values, got shape "
                                      f"{extents.shape}")
        return ((image if tok.use_image else None), proprio, (objects if tok.object_state else None),
                (extents if tok.object_extents else None))

    def act(self, image: np.ndarray | None, proprio: np.ndarray, instruction: str | None = None,
            objects: np.ndarray | None = None, extents: np.ndarray | None = None) -> np.ndarray:
        """Append this timestep and decode one action per joint; returns efforts[n_joints] (float64, raw units).

        `image` may be None for a model without images, `objects` (object state, 21 values) is needed only by a
        model with `tokenizer.object_state`, `extents` (9 values) only with `tokenizer.object_extents`;
        `instruction` counts on the episode's first step (pinned after it).
        """
        image, proprio, objects, extents = self._check_inputs(image, proprio, objects, extents)
        obs = self.tokenizer.observation(image, proprio, objects=objects, extents=extents)
        blocks: list[TokenSequence] = []
        if self._steps == 0 and instruction:
            blocks.append(self.tokenizer.instruction(instruction))
            self.window.instruction = len(blocks[0])
        try:
            dropped = self._make_room(len(obs) + self.n_actions)
        except ContextOverflowError:
            if self._steps == 0:
                self.window.instruction = 0  # nothing was prefilled
            raise
        if dropped:  # the window moved: prefill the kept timesteps again after the pinned prompt + instruction
            for _ in range(dropped):
                self._history.popleft()
            self.runner.truncate(self.window.pinned)
            blocks += list(self._history)
            self.reprefills += bool(self._history)  # a window of one timestep drops it and prefills nothing again
        elif self._pending:  # the last timestep's last action token goes in with this observation
            blocks.append(self._history[-1][-1:])
        self.window.begin_timestep(len(obs))
        logits = self.runner.prefill(concat([*blocks, obs]))
        ids = np.empty(self.n_actions, np.int64)
        efforts = np.empty(self.n_actions, np.float64)
        for i in range(self.n_actions):
            self.last_logits[i] = logits
            value = float(read_bins(logits, self.decoding[i]))  # expected/median: continuous, not snapped
            ids[i] = self.tokenizer.value_token(value)  # the nearest bin is what the model sees next
            efforts[i] = self.tokenizer.decode_action_value(i, value)
            self.window.extend(1)
            if i + 1 < self.n_actions:
                logits = self.runner.decode(int(ids[i]), int(self.action_positions[i]))
        self.last_bins = ids - self.meta.action_vocab_start
        self._history.append(concat([obs, self.tokenizer.action_block(ids)]))
        self._pending = True
        self._steps += 1
        self.last_command = efforts
        if self.controller is None:
            return efforts
        arm = PROPRIO_SIZE // 2  # proprio = [q_arm, qd_arm, gripper position]
        torques = self.controller.lead_torques(proprio[:arm], proprio[arm:2 * arm], efforts[:6])
        return np.concatenate([torques, efforts[6:]])
