"""Minimal URDF reader (xml.etree): links with inertials, joints with origins, axes and limits."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np


class URDFError(ValueError):
    """The URDF text is malformed or lacks something the robot model needs."""


@dataclass(frozen=True)
class Inertial:
    mass: float
    com: np.ndarray  # [3] in the link frame
    inertia: np.ndarray  # [3,3] about the COM, link axes


@dataclass(frozen=True)
class Joint:
    name: str
    type: str  # revolute | continuous | prismatic | fixed
    parent: str
    child: str
    origin: np.ndarray  # [4,4] parent link frame -> joint frame (at q = 0)
    axis: np.ndarray  # [3] unit, joint frame
    lower: float = -np.inf
    upper: float = np.inf
    effort: float = np.inf
    velocity: float = np.inf


@dataclass(frozen=True)
class URDF:
    name: str
    links: dict[str, Inertial | None]
    joints: dict[str, Joint] = field(default_factory=dict)

    @property
    def root(self) -> str:
        children = {j.child for j in self.joints.values()}
        roots = [name for name in self.links if name not in children]
        if len(roots) != 1:
            raise URDFError(f"URDF must have exactly one root link, found {roots}")
        return roots[0]

    def child_joints(self, link: str) -> list[Joint]:
        return [j for j in self.joints.values() if j.parent == link]

    def parent_joint(self, link: str) -> Joint | None:
        for j in self.joints.values():
            if j.child == link:
                return j
        return None


def _floats(text: str | None, n: int, default: float, what: str) -> np.ndarray:
    if text is None:
        return np.full(n, default, dtype=np.float64)
    try:
        values = np.array([float(v) for v in text.split()], dtype=np.float64)
    except ValueError as exc:
        raise URDFError(f"{what}: cannot parse numbers from {text!r}") from exc
    if values.shape != (n,):
        raise URDFError(f"{what}: expected {n} numbers, got {text!r}")
    return values


def rpy_matrix(rpy: np.ndarray) -> np.ndarray:
    """URDF fixed-axis roll-pitch-yaw: R = Rz(yaw) Ry(pitch) Rx(roll)."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def _origin(elem: ET.Element | None, what: str) -> np.ndarray:
    t = np.eye(4)
    if elem is not None:
        t[:3, 3] = _floats(elem.get("xyz"), 3, 0.0, f"{what} origin xyz")
        t[:3, :3] = rpy_matrix(_floats(elem.get("rpy"), 3, 0.0, f"{what} origin rpy"))
    return t


def _inertial(elem: ET.Element | None, link: str) -> Inertial | None:
    if elem is None:
        return None
    mass_el = elem.find("mass")
    if mass_el is None or mass_el.get("value") is None:
        raise URDFError(f"link {link!r}: <inertial> without <mass value=...>")
    mass = float(mass_el.get("value"))
    origin = _origin(elem.find("origin"), f"link {link!r} inertial")
    i = elem.find("inertia")
    vals = {k: float(i.get(k, 0.0)) for k in ("ixx", "ixy", "ixz", "iyy", "iyz", "izz")} if i is not None else {}
    tensor = np.array([[vals.get("ixx", 0), vals.get("ixy", 0), vals.get("ixz", 0)],
                       [vals.get("ixy", 0), vals.get("iyy", 0), vals.get("iyz", 0)],
                       [vals.get("ixz", 0), vals.get("iyz", 0), vals.get("izz", 0)]], dtype=np.float64)
    rot = origin[:3, :3]
    return Inertial(mass, origin[:3, 3].copy(), rot @ tensor @ rot.T)


def parse_urdf(text: str) -> URDF:
    """Parse URDF text into links and joints; raises URDFError with the offending element named."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise URDFError(f"URDF is not well-formed XML: {exc}") from exc
    if root.tag != "robot":
        raise URDFError(f"URDF root element must be <robot>, got <{root.tag}>")
    links: dict[str, Inertial | None] = {}
    for el in root.findall("link"):
        name = el.get("name")
        if not name:
            raise URDFError("a <link> has no name")
        links[name] = _inertial(el.find("inertial"), name)
    joints: dict[str, Joint] = {}
    for el in root.findall("joint"):
        name, jtype = el.get("name"), el.get("type")
        if not name or jtype not in ("revolute", "continuous", "prismatic", "fixed"):
            raise URDFError(f"joint {name!r}: missing name or unsupported type {jtype!r}")
        parent, child = el.find("parent"), el.find("child")
        if parent is None or child is None:
            raise URDFError(f"joint {name!r}: needs <parent link=...> and <child link=...>")
        pl, cl = parent.get("link"), child.get("link")
        for ln in (pl, cl):
            if ln not in links:
                raise URDFError(f"joint {name!r} refers to unknown link {ln!r}")
        axis = _floats(el.find("axis").get("xyz") if el.find("axis") is not None else None, 3, 0.0, name)
        if el.find("axis") is None:
            axis = np.array([1.0, 0.0, 0.0])
        norm = np.linalg.norm(axis)
        if jtype != "fixed" and norm < 1e-12:
            raise URDFError(f"joint {name!r}: zero axis")
        limit = el.find("limit")
        kw = {}
        if limit is not None:
            for key in ("lower", "upper", "effort", "velocity"):
                if limit.get(key) is not None:
                    kw[key] = float(limit.get(key))
        elif jtype in ("revolute", "prismatic"):
            raise URDFError(f"joint {name!r}: {jtype} joints need a <limit>")
        joints[name] = Joint(name, jtype, pl, cl, _origin(el.find("origin"), f"joint {name!r}"),
                             axis / (norm if norm > 0 else 1.0), **kw)
    return URDF(root.get("name", ""), links, joints)
