"""ament_python package that also installs with pip (see README).

colcon (`colcon build [--symlink-install]`, `colcon test`) and pip (`pip install -e .`) both run this file.
"""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.develop import develop
from setuptools.command.install import install

PACKAGE = "gato_ros"
# Resolved: colcon --symlink-install runs a symlink of this file from build/gato_ros, whose parent has no data.
ROOT = Path(__file__).resolve().parent


def tree(folder: str) -> list[tuple[str, list[str]]]:
    """data_files entries that install `folder` under share/gato_ros, keeping its layout."""
    entries: dict[str, list[str]] = {}
    for path in sorted((ROOT / folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(ROOT)
            entries.setdefault(f"share/{PACKAGE}/{rel.parent}", []).append(str(rel))
    return list(entries.items())


def requirements() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


NODES = ("agent", "safety", "sim", "teleop", "recorder", "foxglove_view", "joy_teleop")
CLI = "gato-ros"


class _CliOnPath:
    """Under colcon, setup.cfg puts every console script in lib/gato_ros (where `ros2 run` and launch_ros look),
    which is not on PATH. Copy the `gato-ros` command to <prefix>/bin as well, which a sourced install puts on PATH.
    pip's wheel and editable installs never write to lib/gato_ros, so this does nothing there."""

    def _script_dir(self) -> str:
        raise NotImplementedError

    def run(self) -> None:
        super().run()
        scripts = Path(self._script_dir() or "")
        src = scripts / CLI
        if scripts.name == PACKAGE and scripts.parent.name == "lib" and src.is_file():
            bin_dir = scripts.parent.parent / "bin"
            bin_dir.mkdir(parents=True, exist_ok=True)
            dst = bin_dir / CLI
            if dst.is_symlink() or dst.exists():
                dst.unlink()
            shutil.copy2(src, dst)
            if hasattr(self, "outfiles"):
                self.outfiles.append(str(dst))


class InstallCommand(_CliOnPath, install):
    def _script_dir(self) -> str:
        return self.install_scripts

    def get_outputs(self):
        outputs = super().get_outputs()
        scripts = Path(self.install_scripts or "")
        if scripts.name == PACKAGE and scripts.parent.name == "lib":
            outputs.append(str(scripts.parent.parent / "bin" / CLI))
        return outputs


class DevelopCommand(_CliOnPath, develop):
    def _script_dir(self) -> str:
        return getattr(self, "script_dir", None)

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *[entry for folder in ("launch", "config", "urdf", "models", "sim", "robots") for entry in tree(folder)],
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="gato_ros developers",
    maintainer_email="gato-ros@example.com",
    description="Gato-style generalist transformer on torque-controlled arms over ROS 2",
    license="Apache-2.0",
    # The pip-only route (no system ROS 2): `pip install .[full]` brings the ROS 2 Kilted wheels too.
    # colcon test runs pytest because of the "test" extra (current setuptools ignore tests_require).
    # "peer": `gato-ros bench --peer` (the same-shape HF transformers GPT-2 measured in the same run).
    extras_require={"full": requirements(), "test": ["pytest", "hypothesis"], "peer": ["transformers==5.23.0"]},
    cmdclass={"install": InstallCommand, "develop": DevelopCommand},
    entry_points={
        "console_scripts": [f"{node} = {PACKAGE}.nodes.{node}:main" for node in NODES]
        + [f"{CLI} = {PACKAGE}.cli:main"],
    },
)
