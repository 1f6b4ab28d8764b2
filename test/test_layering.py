"""The package's import graph reads top to bottom: no import circles between modules, the runtime stands on the
tokenizer alone (never export, bench, model or sim), and topic names are spelled only in gato_ros.interfaces."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gato_ros"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the gato_ros modules it imports anywhere (deferred imports inside functions count too)."""

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gato_ros"):
                names = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("gato_ros")]
            for name in names:
                target = resolve(name)
                if target and target != module:
                    graph[module].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_circles() -> None:
    graph = _imports(_modules())
    # a package __init__ re-exports its modules; the edge back from a module to its own package is not a circle
    for module in graph:
        graph[module] = {t for t in graph[module] if not module.startswith(t + ".")}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_runtime_imports_neither_export_nor_bench() -> None:
    graph = _imports(_modules())
    forbidden = ("gato_ros.export", "gato_ros.bench", "gato_ros.model", "gato_ros.sim", "gato_ros.train")
    for module, targets in graph.items():
        if module.startswith("gato_ros.runtime"):
            bad = sorted(t for t in targets if t.startswith(forbidden))
            assert not bad, f"{module} imports {bad}"


def test_topic_names_are_spelled_only_in_interfaces() -> None:
    from gato_ros import interfaces

    topics = {v for k, v in vars(interfaces).items() if k.endswith("_TOPIC")}
    for module, path in _modules().items():
        if module == "gato_ros.interfaces":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in topics:
                raise AssertionError(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} spells {node.value!r}: "
                                     "import it from gato_ros.interfaces")


def test_interfaces_stand_alone_and_logic_is_free_of_rclpy() -> None:
    """gato_ros.interfaces imports nothing of gato_ros; rclpy is the nodes' (and the runner's, the CLI's) alone, so
    every component's logic runs and is tested without ROS (interfaces builds QoS profiles only when asked)."""
    modules = _modules()
    assert not _imports(modules)["gato_ros.interfaces"]
    ros_users = ("gato_ros.nodes", "gato_ros.launch_runner.monitor", "gato_ros.cli", "gato_ros.interfaces")
    for module, path in modules.items():
        if module.startswith(ros_users):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "rclpy" or n.startswith("rclpy.") for n in names), f"{module} imports rclpy"


def test_only_the_tokenizer_resizes_images() -> None:
    """One preprocessing path: frames travel at the camera's size and gato_ros.tokenizer.image alone resizes."""
    for module, path in _modules().items():
        if module != "gato_ros.tokenizer.image":
            assert "resize(" not in path.read_text(), f"{module} resizes images"
