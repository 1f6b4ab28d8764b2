"""Which model directory the agent loads when `model_dir` is empty: models/default, else the only model shipped."""

from __future__ import annotations

from pathlib import Path

from gato_ros import paths


class ModelDirError(FileNotFoundError):
    """No usable model directory could be found."""


def resolve_model_dir(model_dir: str, models_root: Path | None = None) -> Path:
    """`model_dir` if given (must hold gato.json), else `<models>/default`, else the single model under `<models>`."""
    if model_dir:
        path = Path(model_dir).expanduser()
        if not (path / "gato.json").is_file():
            raise ModelDirError(f"model_dir {path} has no gato.json (make one with `gato-ros export ... --out DIR`)")
        return path
    root = models_root if models_root is not None else paths.models_dir()
    if (root / "default" / "gato.json").is_file():
        return root / "default"
    found = sorted(p.parent for p in root.glob("*/gato.json")) if root.is_dir() else []
    if len(found) == 1:
        return found[0]
    raise ModelDirError(
        f"model_dir is empty and {root} holds {len(found)} models ({[p.name for p in found]}); "
        "set the model_dir parameter (launch argument model:=DIR, or `gato-ros run stacking --model DIR`)"
    )
