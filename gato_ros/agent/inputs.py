"""Input freshness and episode-boundary detection for the agent's control tick."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputAge:
    """When each input last arrived (seconds on the node clock; None = never)."""

    image_t: float | None
    state_t: float | None
    objects_t: float | None = None  # /sim/object_poses (only for models with tokenizer.object_state)


@dataclass(frozen=True)
class ModelInputs:
    """Which observation inputs a model consumes (gato.json tokenizer.use_image / tokenizer.object_state)."""

    image: bool = True
    objects: bool = False
    object_frame: str = "body"  # which frame of each object the model's object poses are of
    extents: bool = False  # /sim/object_extents (tokenizer.object_extents)

    @classmethod
    def of(cls, tokenizer_config: object) -> "ModelInputs":
        """From a TokenizerConfig (formats without the fields: image only, body frames, no extents)."""
        return cls(bool(getattr(tokenizer_config, "use_image", True)),
                   bool(getattr(tokenizer_config, "object_state", False)),
                   str(getattr(tokenizer_config, "object_frame", "body")),
                   bool(getattr(tokenizer_config, "object_extents", False)))

    def check_object_frame(self, published: str) -> None:
        """A model with object state must get the object frames it was trained on: poses of another frame look
        valid and would silently steer the wrist wrong, so refuse them (ValueError naming the launch argument)."""
        if self.objects and self.object_frame != published:
            raise ValueError(f"the model reads each object's {self.object_frame} frame (gato.json "
                             f"tokenizer.object_frame) but the object poses are of the {published} frame (object_frame "
                             f"parameter); launch with object_frame:={self.object_frame}")


def stale_reason(now: float, age: InputAge, image_timeout_s: float, state_timeout_s: float,
                 objects_timeout_s: float | None = None, inputs: ModelInputs = ModelInputs()) -> str | None:
    """Why the agent must not act now (a missing or stale input the model needs), or None when all are fresh."""
    reasons = []
    checks = [("joint state", age.state_t, state_timeout_s)]
    if inputs.image:
        checks.insert(0, ("image", age.image_t, image_timeout_s))
    if inputs.objects:
        checks.append(("object poses", age.objects_t, state_timeout_s if objects_timeout_s is None
                       else objects_timeout_s))
    for label, t, timeout in checks:
        if t is None:
            reasons.append(f"no {label} received yet")
        elif now - t > timeout:
            reasons.append(f"{label} stale ({now - t:.3f} s old > {timeout:.3f} s)")
    return "; ".join(reasons) or None


class EpisodeClock:
    """Detects a new episode from a backwards jump of the joint-state time (a sim reset restarting its clock)."""

    def __init__(self, tolerance_s: float = 0.5) -> None:
        self.tolerance_s = tolerance_s
        self._last: float | None = None

    def observe(self, t: float) -> bool:
        """Record stamp `t`; True when it jumped back by more than the tolerance (a new episode began)."""
        jumped = self._last is not None and t < self._last - self.tolerance_s
        self._last = t
        return jumped
