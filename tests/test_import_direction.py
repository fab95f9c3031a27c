"""Imports run one way (``../shared/guides/architecture.md``): views → (lifecycle, policy, governance, planning) →
models; engine → live → presenters. Read from the code itself with ``ast``: every ``import`` in ``mobility/``, those
inside functions included (a lazy import is still a dependency, and the way a cycle hides); only ``if
TYPE_CHECKING:`` blocks are left out, since they never run.

Three rules besides the layers: no import cycle at all among mobility's modules; an import inside a function says
why on its line or the line above (``# import here: <reason>``: start-up cost, Django's app loading), so that
none hides a cycle; forms never reach an IVM (no client, no pool, no inventory sync: rules and key parsing only).
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIEWS = "mobility.views"
# The engine and the live layer (pushes, presenters, sockets): run by workers and sockets, never through a page.
BELOW_VIEWS = ("mobility.engine", "mobility.live", "mobility.consumers")
# What the bottom layers may import inside mobility: the entities know their enums and the encrypted field's
# secrets; planning is pure (plain data only).
MAY_IMPORT = {
    "mobility.models": ("mobility.models", "mobility.choices", "mobility.secrets"),
    "mobility.planning": ("mobility.planning",),
}
# The services pages call: none of them reaches up to a page, a form, a socket or the engine.
SERVICES = ("mobility.lifecycle", "mobility.policy", "mobility.governance", "mobility.planning", "mobility.plans",
            "mobility.inventory", "mobility.notifications", "mobility.journal")
ABOVE_SERVICES = ("mobility.views", "mobility.forms", "mobility.consumers", "mobility.engine", "mobility.routing")
# What a form may not import: whatever opens an SSH connection or syncs (the IVM package's front door re-exports
# the client; its rules, errors and key parsing are imported by their own modules).
FORMS = "mobility.forms"
IVM_DOORS = ("mobility.ivm", "mobility.ivm.client", "mobility.ivm.pool", "mobility.inventory", "paramiko")
REASON = re.compile(r"#\s*import here:\s*\S")


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for path in sorted((root / "mobility").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST, in_function: bool = False):
    """Every import statement under ``node``, at any depth, except in the body of ``if TYPE_CHECKING:``; with
    whether it runs inside a function."""
    for child in ast.iter_child_nodes(node):
        runs = child.orelse if isinstance(child, ast.If) and _is_type_checking(child.test) else [child]
        for statement in runs:
            inside = in_function or isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(statement, ast.Import | ast.ImportFrom):
                yield statement, in_function
            yield from _import_nodes(statement, inside)


def imports_of(name: str, source: str, modules) -> set[str]:
    """The modules a module named ``name`` imports: ``from p import m`` is ``p.m`` when that is a module, else ``p``."""
    package = name if modules.get(name, Path()).name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node, _ in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names)
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: imports_of(name, path.read_text(), modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected sets of more than one module (Tarjan), over imports of mobility's modules."""
    index, low, stack, on_stack, found = {}, {}, [], set(), set()

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v] & graph.keys():
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            members = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                members.add(w)
                if w == v:
                    break
            if len(members) > 1:
                found.add(frozenset(members))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_reader_sees_imports_inside_functions_and_resolves_relative_ones():
    modules = {"mobility.live.publish": Path("publish.py"), "mobility.live.presenters": Path("presenters.py"),
               "mobility.ivm.errors": Path("errors.py")}
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mobility.views import plan\n"
              "def f():\n    if True:\n        from mobility.views.engine import x\n"
              "from . import presenters\nfrom ..ivm import errors\nimport mobility.models\n")
    assert imports_of("mobility.live.publish", source, modules) == {
        "typing", "mobility.views.engine", "mobility.live.presenters", "mobility.ivm.errors", "mobility.models"}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}) == {frozenset("abc")}
    assert _unexplained("mobility.x", source) == [("mobility.x", 6, "from mobility.views.engine import x")]
    explained = source.replace("        from mobility.views", "        # import here: start-up cost\n        from mobility.views")
    assert _unexplained("mobility.x", explained) == []


def _unexplained(name: str, source: str) -> list[tuple[str, int, str]]:
    """Imports inside functions without ``# import here: <reason>`` on their line or the line above."""
    lines = source.splitlines()
    found = []
    for node, in_function in _import_nodes(ast.parse(source)):
        if not in_function:
            continue
        around = lines[node.lineno - 1] + (lines[node.lineno - 2] if node.lineno > 1 else "")
        if not REASON.search(around):
            found.append((name, node.lineno, lines[node.lineno - 1].strip()))
    return found


def test_neither_the_engine_nor_the_live_layer_imports_a_view():
    offenders = sorted((name, target) for name, targets in _graph().items() if name.startswith(BELOW_VIEWS)
                       for target in targets if _within(target, VIEWS))
    assert offenders == []


def test_models_and_planning_import_nothing_above_them():
    offenders = sorted(
        (name, target) for name, targets in _graph().items() for layer, allowed in MAY_IMPORT.items()
        if _within(name, layer) for target in targets
        if _within(target, "mobility") and not any(_within(target, a) for a in allowed))
    assert offenders == []


def test_the_services_import_no_page_form_socket_or_engine():
    offenders = sorted((name, target) for name, targets in _graph().items() if name.startswith(SERVICES)
                       for target in targets if any(_within(target, above) for above in ABOVE_SERVICES))
    assert offenders == []


def test_mobility_has_no_import_cycle():
    assert sorted(map(sorted, _cycles(_graph()))) == []


def test_every_import_inside_a_function_says_why():
    found = [hit for name, path in _modules().items() for hit in _unexplained(name, path.read_text())]
    assert found == [], "move the import to the top (move a shared piece down if that makes a cycle), or say why"


def test_forms_do_not_reach_an_ivm():
    offenders = sorted((name, target) for name, targets in _graph().items() if _within(name, FORMS)
                       for target in targets if target in IVM_DOORS or _within(target, "mobility.inventory"))
    assert offenders == []


# The doors people and scripts come in by: pages, forms, the API, the sockets. They never talk to an IVM themselves;
# what needs one is an IVM job (mobility.jobs) that a worker runs, so no request waits on SSH.
DOORS = ("mobility.views", "mobility.forms", "mobility.api", "mobility.consumers", "mobility.wizard")
SSH_MODULES = ("mobility.ivm.client", "mobility.ivm.pool", "mobility.inventory.connections", "mobility.inventory.sync",
               "mobility.inventory.reads", "mobility.twin.rehearse", "mobility.twin.batch_rehearse",
               "mobility.twin.simulator", "paramiko")
# Functions that open an SSH connection or wait on one, wherever they are re-exported from.
SSH_CALLS = frozenset({"client_for", "scan_host_key", "sync_console", "sync_all", "sync_since", "sync_due",
                       "validate_plan", "read_inventory", "fetch_inventory", "run_pending", "rehearse"})


def _names_used(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.name.rsplit(".", 1)[-1])
    return names


def test_no_door_talks_to_an_ivm_inside_a_request():
    graph, modules = _graph(), _modules()
    imported = sorted((name, target) for name, targets in graph.items() if name.startswith(DOORS)
                      for target in targets if target.startswith(SSH_MODULES))
    called = sorted((name, sorted(_names_used(path.read_text()) & SSH_CALLS)) for name, path in modules.items()
                    if name.startswith(DOORS) and _names_used(path.read_text()) & SSH_CALLS)
    assert imported == [] and called == [], "enqueue an IVM job (mobility.jobs) instead"


def test_the_api_imports_no_view():
    offenders = sorted((name, target) for name, targets in _graph().items() if _within(name, "mobility.api")
                       for target in targets if _within(target, VIEWS))
    assert offenders == []
