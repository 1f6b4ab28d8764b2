"""ament_python package that also installs with pip (see README)."""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "gato_ros"
ROOT = Path(__file__).parent


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


NODES = ("agent", "safety", "sim", "teleop", "recorder")

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *[entry for folder in ("launch", "config", "urdf", "models", "sim") for entry in tree(folder)],
    ],
    install_requires=["setuptools"],
    # The pip-only route (no system ROS 2): `pip install .[full]` brings the ROS 2 Kilted wheels too.
    extras_require={"full": requirements()},
    zip_safe=True,
    maintainer="gato_ros developers",
    maintainer_email="gato-ros@example.com",
    description="Gato-style generalist transformer on torque-controlled arms over ROS 2",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [f"{node} = {PACKAGE}.nodes.{node}:main" for node in NODES]
        + [f"gato-ros = {PACKAGE}.cli:main"],
    },
)
