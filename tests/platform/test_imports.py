"""The import graph of `creatorhub`, read from the source with `ast` (nothing is imported).

Rules, and why:

* **No import cycle among creatorhub's modules.** A cycle works or breaks depending on which
  module happens to be imported first, and it ties modules that should be separable. Every
  import counts: at module level, under `if TYPE_CHECKING:` (a type-only cycle still ties the
  two modules for mypy and for a reader), and inside functions.
* **An import inside a function may close a cycle only on purpose.** Importing at call time is
  the accepted way to break a cycle at run time, but an accidental one looks the same, so the
  import must say so: a comment containing `import cycle` on its line or the line above (say
  which cycle and why the modules cannot be untied). Function-level imports made for another
  reason (the CLI imports each command's modules when it runs, so `--help` stays fast; an
  optional provider's library is loaded only when configured) need no comment as long as they
  close no cycle.
* Importing `a.b.c` runs `a/b/__init__.py` first, so it also depends on the package `a.b`,
  except from inside `a.b` itself (Python resolves a submodule while its package is still
  initialising; a name *defined* by the package is an explicit import and counts).
* **kit depends on no domain module**: everything `creatorhub.kit` reaches, directly or not,
  is kit, `creatorhub.config` or `creatorhub.db`. kit holds what has no domain of its own, so
  every module can use it; a domain import would make it a hidden member of that domain.
* **Every module that declares a job is listed in `jobs.TASK_MODULES`**: a worker knows only
  the tasks of the modules listed there, and would fail a job of any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import creatorhub
from creatorhub import jobs

SRC = Path(creatorhub.__file__).resolve().parent.parent
KIT_MAY_IMPORT = ("creatorhub.kit", "creatorhub.config", "creatorhub.db")
CYCLE_COMMENT = "import cycle"


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    kind: str  # "module", "type" (under TYPE_CHECKING) or "function"
    cycle_noted: bool  # a function-level import whose comment says it breaks a cycle

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line}, {self.kind} level)"


def modules(root: Path = SRC) -> dict[str, Path]:
    """creatorhub's modules by dotted name (a package by its own name, from `__init__.py`)."""
    found = {}
    for path in sorted((root / "creatorhub").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(name: str, path: Path, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The creatorhub modules one import statement names (`from p import m`: m if a module)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    base = node.module or ""
    if node.level:
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        anchor = package[: len(package) - node.level + 1]
        base = ".".join(anchor + ([node.module] if node.module else []))
    named = {f"{base}.{alias.name}" for alias in node.names}
    return {target if target in known else base for target in named} & known


def _statements(body: list[ast.stmt], kind: str) -> Iterator[tuple[ast.AST, str]]:
    """Every import statement below `body`, with where it runs: module, type or function."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, kind
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    yield inner, "function"
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _statements(node.body, "type")
            yield from _statements(node.orelse, kind)
        else:
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner_body = getattr(node, field, None)
                if isinstance(inner_body, list):
                    yield from _statements(inner_body, kind)


def imports(root: Path = SRC) -> list[Import]:
    """Every import of a creatorhub module by a creatorhub module, with the implied packages."""
    found = modules(root)
    known = set(found)
    edges: list[Import] = []
    for name, path in found.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node, kind in _statements(ast.parse(source, str(path)).body, "module"):
            assert isinstance(node, ast.Import | ast.ImportFrom)
            nearby = " ".join(lines[max(node.lineno - 2, 0) : node.end_lineno]).lower()
            noted = kind == "function" and CYCLE_COMMENT in nearby
            for target in _targets(name, path, node, known):
                implied = {
                    ".".join(target.split(".")[:depth]) for depth in range(2, target.count(".") + 1)
                }
                own_packages = {p for p in implied if name == p or name.startswith(p + ".")}
                for module in {target} | (implied - own_packages):
                    if module != name and module in known:
                        edges.append(Import(name, module, node.lineno, kind, noted))
    return edges


def cycles(edges: Iterable[Import]) -> list[list[Import]]:
    """The import cycles: for each group of modules that reach one another (Tarjan's strongly
    connected components), the imports between its members, so the message shows the loop."""
    graph: dict[str, list[Import]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge)
        graph.setdefault(edge.target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph[node]:
            if edge.target not in index:
                visit(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [
        sorted(
            (e for m in group for e in graph[m] if e.target in group),
            key=lambda e: (e.source, e.line),
        )
        for group in groups
    ]


def reachable(edges: Iterable[Import], start: Iterable[str]) -> dict[str, Import | None]:
    """Every module the `start` modules import, directly or not, with the import that got there."""
    graph: dict[str, list[Import]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge)
    seen: dict[str, Import | None] = dict.fromkeys(start)
    todo = list(seen)
    while todo:
        for edge in graph.get(todo.pop(), []):
            if edge.target not in seen:
                seen[edge.target] = edge
                todo.append(edge.target)
    return seen


def kit_escapes(edges: list[Import], root: Path = SRC) -> list[str]:
    """What kit reaches beyond kit, config and db, each with the chain of imports to it."""

    def allowed(module: str) -> bool:
        return any(module == ok or module.startswith(ok + ".") for ok in KIT_MAY_IMPORT)

    kit = [name for name in modules(root) if allowed(name) and name.startswith("creatorhub.kit")]
    reached = reachable(edges, kit)
    found = []
    for module, via in sorted(reached.items()):
        if allowed(module):
            continue
        chain: list[Import] = []
        while via is not None:
            chain.append(via)
            via = reached[via.source]
        chain.reverse()
        found.append(
            chain[0].source
            + "".join(f" -> {edge.target} (line {edge.line}, {edge.kind} level)" for edge in chain)
        )
    return found


def _declares_tasks(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                if (
                    isinstance(call, ast.Attribute)
                    and call.attr == "task"
                    and isinstance(call.value, ast.Name)
                    and call.value.id == "job_app"
                ):
                    return True
    return False


# --- the rules on this repository ------------------------------------------------------------


def test_no_import_cycle() -> None:
    live = [edge for edge in imports() if not edge.cycle_noted]
    assert [[str(edge) for edge in cycle] for cycle in cycles(live)] == []


def test_kit_imports_no_domain_module() -> None:
    assert kit_escapes(imports()) == []


def test_every_module_with_jobs_is_registered() -> None:
    declaring = {name for name, path in modules().items() if _declares_tasks(path)}
    assert declaring - set(jobs.TASK_MODULES) == set()


# --- the rules catch what they are meant to ----------------------------------------------------


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"creatorhub/__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_a_type_only_or_function_level_cycle_counts(tmp_path: Path) -> None:
    # The shape config and kit.crypto had: a validator importing crypto when it ran, crypto
    # importing config for a type.
    root = _package(
        tmp_path,
        {
            "creatorhub/config.py": "def check():\n    from creatorhub.kit.crypto import parse\n",
            "creatorhub/kit/__init__.py": "",
            "creatorhub/kit/crypto.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from creatorhub.config import Settings\n"
            ),
        },
    )
    assert [[str(edge) for edge in cycle] for cycle in cycles(imports(root))] == [
        [
            "creatorhub.config -> creatorhub.kit.crypto (line 2, function level)",
            "creatorhub.kit.crypto -> creatorhub.config (line 3, type level)",
        ]
    ]


def test_a_noted_lazy_import_breaks_a_cycle(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "creatorhub/a.py": "import creatorhub.b\n",
            "creatorhub/b.py": (
                "def later():\n"
                "    # import cycle with a: a's registry must exist before b runs\n"
                "    import creatorhub.a\n"
            ),
        },
    )
    edges = imports(root)
    assert [str(edge) for edge in edges if edge.cycle_noted] == [
        "creatorhub.b -> creatorhub.a (line 3, function level)"
    ]
    assert cycles([edge for edge in edges if not edge.cycle_noted]) == []


def test_a_package_that_imports_its_importer_is_a_cycle(tmp_path: Path) -> None:
    # Importing creatorhub.shop.models runs creatorhub/shop/__init__.py, which imports x.
    root = _package(
        tmp_path,
        {
            "creatorhub/x.py": "from creatorhub.shop.models import Item\n",
            "creatorhub/shop/__init__.py": "from creatorhub.x import thing\n",
            "creatorhub/shop/models.py": "from creatorhub.shop import helpers\n",
            "creatorhub/shop/helpers.py": "",
        },
    )
    assert [[str(edge) for edge in cycle] for cycle in cycles(imports(root))] == [
        [
            "creatorhub.shop -> creatorhub.x (line 1, module level)",
            "creatorhub.x -> creatorhub.shop (line 1, module level)",
        ]
    ]


def test_kit_reaching_a_domain_module_through_another_is_caught(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "creatorhub/db.py": "from creatorhub.identity.deps import principal\n",
            "creatorhub/identity/__init__.py": "",
            "creatorhub/identity/deps.py": "",
            "creatorhub/kit/__init__.py": "",
            "creatorhub/kit/idempotency.py": "from creatorhub.db import Base\n",
        },
    )
    assert kit_escapes(imports(root), root) == [
        "creatorhub.kit.idempotency -> creatorhub.db (line 1, module level)"
        " -> creatorhub.identity (line 1, module level)",
        "creatorhub.kit.idempotency -> creatorhub.db (line 1, module level)"
        " -> creatorhub.identity.deps (line 1, module level)",
    ]
