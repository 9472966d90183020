"""Every problem code the API can answer is provoked by a test.

The codes are read from the source with `ast`, not from a list kept by hand:

* keyword `code="..."` of a call to a `Problem` subclass (`raise Conflict(..., code="x")`,
  `OAuthFailed(..., code="x")`) or to `problem_response` (whose code is also its second
  positional argument);
* class attributes `code = "..."` (or `status, code = 409, "..."`) of `Problem` subclasses;
* keyword `code="..."` of a call to a function annotated to return a `Problem` subclass (a
  factory such as `marketplace.errors.guard_refusal`).

`Problem` subclasses are found across `src/` by their bases, transitively, so a module's own
error classes count as soon as they derive from one.

A code counts as tested when a test asserts it on a response: an argument of `assert_problem`
(tests/helpers.py), a comparison with `["code"]` (`body["code"] == "x"`, `...["code"] in {...}`),
or a `code=` keyword of a test helper that asserts the response's code. The test fails naming
every code without one, so a new refusal comes with the test that provokes it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "creatorhub"
TESTS = ROOT / "tests"

# Codes raised in src/ that no test provokes, each with the reason it cannot (yet) be.
UNTESTED: dict[str, str] = {
    # The defaults of kit/errors.py's generic classes: every raise site names its own code
    # (the raise sites are in the list above when they do), so these answer only a raise that
    # forgot to; none does.
    "bad_request": "default of BadRequest; every raise names its code",
    "unauthorized": "default of Unauthorized; every raise names its code",
    "forbidden": "default of Forbidden; every raise names its code",
    "conflict": "default of Conflict; every raise names its code",
    "gone": "default of Gone; every raise names its code",
    # Review links are opened in a browser: these three answer as pages (workspace/pages.py,
    # LINK_PROBLEMS), never as problem+json; workspace/test_reviews.py checks each page
    # (test_link_expires_after_30_days, test_regenerating_revokes_the_live_link,
    # test_review_is_recorded_once).
    "review_link_expired": "answered as an HTML page; its page is tested",
    "review_link_revoked": "answered as an HTML page; its page is tested",
    "review_link_used": "answered as an HTML page; its page is tested",
    # The month of the creator's calendar page (web/studio_calendar.py), answered as a 422
    # page: web/test_studio_pages.py::test_blocked_dates_in_the_month_grid.
    "invalid_month": "answered as an HTML page; its page is tested",
}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _modules(root: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(root.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def problem_classes(modules: list[tuple[Path, ast.Module]]) -> set[str]:
    """Names of `Problem` and every class deriving from it, transitively, across `src/`."""
    bases: dict[str, set[str]] = {}
    for _, module in modules:
        for node in ast.walk(module):
            if isinstance(node, ast.ClassDef):
                names = {name for base in node.bases if (name := _name(base)) is not None}
                bases.setdefault(node.name, set()).update(names)
    found = {"Problem"}
    while True:
        more = {cls for cls, parents in bases.items() if parents & found} - found
        if not more:
            return found
        found |= more


def _class_codes(node: ast.ClassDef) -> Iterator[str]:
    for statement in node.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name) and target.id == "code":
                    value = statement.value
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        yield value.value
                if isinstance(target, ast.Tuple) and isinstance(statement.value, ast.Tuple):
                    for name, value in zip(target.elts, statement.value.elts, strict=False):
                        if (
                            isinstance(name, ast.Name)
                            and name.id == "code"
                            and isinstance(value, ast.Constant)
                            and isinstance(value.value, str)
                        ):
                            yield value.value
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.target.id == "code"
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        ):
            yield statement.value.value


def raised_codes(root: Path = SRC) -> dict[str, set[str]]:
    """Each code raised in src/, with the files that raise it."""
    modules = list(_modules(root))
    classes = problem_classes(modules)
    factories = {
        node.name
        for _, module in modules
        for node in ast.walk(module)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.returns is not None
        and _name(node.returns) in classes
    }
    codes: dict[str, set[str]] = {}

    def add(code: str, path: Path) -> None:
        codes.setdefault(code, set()).add(str(path.relative_to(root.parent.parent)))

    for path, module in modules:
        for node in ast.walk(module):
            if isinstance(node, ast.ClassDef) and node.name in classes:
                for code in _class_codes(node):
                    add(code, path)
            if not isinstance(node, ast.Call):
                continue
            called = _name(node.func)
            if called not in classes and called not in factories and called != "problem_response":
                continue
            for keyword in node.keywords:
                value = keyword.value
                if (
                    keyword.arg == "code"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    add(value.value, path)
            if called == "problem_response" and len(node.args) >= 2:
                second = node.args[1]
                if isinstance(second, ast.Constant) and isinstance(second.value, str):
                    add(second.value, path)
    return codes


def class_codes() -> dict[str, set[str]]:
    """The code attributes of each `Problem` subclass, by class name."""
    modules = list(_modules(SRC))
    classes = problem_classes(modules)
    codes: dict[str, set[str]] = {}
    for _, module in modules:
        for node in ast.walk(module):
            if isinstance(node, ast.ClassDef) and node.name in classes:
                codes.setdefault(node.name, set()).update(_class_codes(node))
    return codes


def _strings(node: ast.expr) -> Iterator[str]:
    """String constants of an expression, and of the elements of a literal set/list/tuple."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.Set | ast.List | ast.Tuple):
        for element in node.elts:
            yield from _strings(element)


def _is_code_lookup(node: ast.expr) -> bool:
    """`x["code"]`, `x.json()["code"]`, `x.get("code")`, `problem.code`."""
    if isinstance(node, ast.Subscript):
        key = node.slice
        return isinstance(key, ast.Constant) and key.value == "code"
    if isinstance(node, ast.Call) and _name(node.func) == "get" and node.args:
        first = node.args[0]
        return isinstance(first, ast.Constant) and first.value == "code"
    return isinstance(node, ast.Attribute) and node.attr == "code"


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _bindings(function: Function) -> dict[str, list[ast.expr]]:
    """What a name can stand for in a test: its `pytest.mark.parametrize` values, and the
    elements of a literal list it loops over (`for bad, code in cases:`)."""
    bound: dict[str, list[ast.expr]] = {}

    def bind(names: list[str], row: ast.expr) -> None:
        if len(names) == 1:
            bound.setdefault(names[0], []).append(row)
        elif isinstance(row, ast.Tuple | ast.List):
            for name, value in zip(names, row.elts, strict=False):
                bound.setdefault(name, []).append(value)

    for decorator in function.decorator_list:
        if not (isinstance(decorator, ast.Call) and _name(decorator.func) == "parametrize"):
            continue
        if len(decorator.args) < 2:
            continue
        spec, rows = decorator.args[0], decorator.args[1]
        if isinstance(spec, ast.Constant) and isinstance(spec.value, str):
            names = [name.strip() for name in spec.value.split(",")]
        else:
            names = list(_strings(spec))
        if isinstance(rows, ast.List | ast.Tuple):
            for row in rows.elts:
                if isinstance(row, ast.Call) and _name(row.func) == "param":
                    row = ast.Tuple(elts=list(row.args)) if len(names) > 1 else row.args[0]
                bind(names, row)

    literals = {
        node.targets[0].id: node.value
        for node in ast.walk(function)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.List | ast.Tuple)
    }
    for node in ast.walk(function):
        if not isinstance(node, ast.For | ast.AsyncFor):
            continue
        iterated = node.iter
        if isinstance(iterated, ast.Name):
            iterated = literals.get(iterated.id, iterated)
        if not isinstance(iterated, ast.List | ast.Tuple):
            continue
        if isinstance(node.target, ast.Name):
            targets = [node.target.id]
        elif isinstance(node.target, ast.Tuple):
            targets = [elt.id if isinstance(elt, ast.Name) else "" for elt in node.target.elts]
        else:
            continue
        for row in iterated.elts:
            bind(targets, row)
    return bound


def asserted_codes() -> dict[str, set[str]]:
    """Each code a test asserts on a response (or on the problem raised), with the files."""
    by_class = class_codes()
    codes: dict[str, set[str]] = {}
    for path, module in _modules(TESTS):
        if path == Path(__file__).resolve():
            continue
        where = str(path.relative_to(ROOT))
        functions = [node for node in ast.walk(module) if isinstance(node, Function)]
        for function in functions:
            bound = _bindings(function)

            def values(node: ast.expr, bound: dict[str, list[ast.expr]] = bound) -> Iterator[str]:
                if isinstance(node, ast.Name) and node.id in bound:
                    for value in bound[node.id]:
                        yield from _strings(value)
                        if isinstance(value, ast.Name):
                            yield from by_class.get(value.id, ())
                else:
                    yield from _strings(node)

            for node in ast.walk(function):
                found: list[str] = []
                if isinstance(node, ast.Call) and _name(node.func) == "assert_problem":
                    for arg in node.args[2:3]:
                        found.extend(values(arg))
                    for keyword in node.keywords:
                        if keyword.arg == "code":
                            found.extend(values(keyword.value))
                elif isinstance(node, ast.Call) and _name(node.func) == "raises" and node.args:
                    # `pytest.raises(InvalidAmount)`: the problem class, and so its code.
                    first = node.args[0]
                    classes = first.elts if isinstance(first, ast.Tuple) else [first]
                    for cls in classes:
                        if isinstance(cls, ast.Name):
                            found.extend(by_class.get(cls.id, ()))
                            for value in bound.get(cls.id, []):
                                if isinstance(value, ast.Name):
                                    found.extend(by_class.get(value.id, ()))
                elif isinstance(node, ast.Call):
                    # A helper that asserts the answer's code: `refused(..., code="x")`.
                    for keyword in node.keywords:
                        if keyword.arg == "code":
                            found.extend(values(keyword.value))
                elif isinstance(node, ast.Compare):
                    sides = [node.left, *node.comparators]
                    if any(_is_code_lookup(side) for side in sides):
                        for side in sides:
                            found.extend(values(side))
                for code in found:
                    codes.setdefault(code, set()).add(where)
    return codes


def test_every_problem_code_raised_in_src_is_provoked_by_a_test() -> None:
    raised = raised_codes()
    asserted = asserted_codes()
    missing = sorted(set(raised) - set(asserted) - set(UNTESTED))
    assert not missing, "problem codes no test provokes:\n" + "\n".join(
        f"  {code}  (raised in {', '.join(sorted(raised[code]))})" for code in missing
    )


def test_the_exemptions_are_still_raised_and_still_untested() -> None:
    """An exemption whose code is gone from src/, or has a test now, is a stale line."""
    raised = raised_codes()
    asserted = asserted_codes()
    assert sorted(code for code in UNTESTED if code not in raised) == []
    assert sorted(code for code in UNTESTED if code in asserted) == []


def test_the_reader_finds_codes_of_every_form() -> None:
    """The parser sees the forms the source uses (guards against a reader that finds nothing)."""
    raised = raised_codes()
    assert "job_closed" in raised  # MarketplaceConflict("...", code="job_closed")
    assert "payments_provider_unavailable" in raised  # status, code = 503, "..." on a class
    assert "invalid_ledger_request" in raised  # code = "..." on a class
    assert "internal_error" in raised  # problem_response(500, "internal_error", ...)
    assert "oauth_code_missing" in raised  # OAuthFailed(..., code="...") (a Problem subclass)
    asserted = asserted_codes()
    assert "job_closed" in asserted  # assert_problem(response, 409, "job_closed")


NEW_MODULE = """
from creatorhub.kit.errors import Conflict, Problem


class GadgetBroken(Problem):
    status, code = 503, "gadget_broken"


def refuse() -> None:
    raise Conflict("no", code="gadget_taken")
"""


def test_a_new_module_with_untested_refusals_is_named(tmp_path: Path) -> None:
    """What the check above would say of a module adding two refusals without tests."""
    package = tmp_path / "src" / "creatorhub"
    package.mkdir(parents=True)
    (package / "errors.py").write_text((SRC / "kit" / "errors.py").read_text())
    (package / "gadgets.py").write_text(NEW_MODULE)
    raised = raised_codes(package)
    untested = sorted(set(raised) - set(asserted_codes()) - set(UNTESTED))
    assert untested == ["gadget_broken", "gadget_taken"]
    assert raised["gadget_taken"] == {"src/creatorhub/gadgets.py"}
