"""No module but the access policy keeps a rule of who may see or do what (read from the code with ast).

A rule needs roles or team membership: a call of ``has_role``/``roles_of``, a read of ``is_superuser``, a
query through ``team__members``/``teams``/``groups``, or a look at ``<team>.members``/``<user>.groups``.
Only ``mobility/policy.py`` (and ``mobility/roles.py``, which reads the groups) may do any of that.
"""

import ast
import re
from pathlib import Path

import pytest

MOBILITY = Path(__file__).resolve().parents[2] / "mobility"
OWNERS = {"policy.py", "roles.py"}
# Records every change of roles and team membership in the audit trail: it reads them to say what changed, not to
# decide anything.
RECORDERS = {"governance/grant_audit.py"}
# roles_of only to print the role names beside the user's name in the page header, and in the API's "who am I"
DISPLAY = {("context_processors.py", "roles_of"), ("api/me.py", "roles_of")}
ROLE_CALLS = {"has_role", "roles_of"}
MEMBERSHIP = {"members", "teams", "groups"}
READS = {"filter", "exclude", "get", "exists", "values", "values_list", "all", "count", "contains", "through"}
LOOKUP = re.compile(r"(^|__)(members|teams|groups)(__|$)")


def _name(node) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def rule_copies(root: Path) -> list[str]:
    """Every place outside the policy that reads roles or team membership, as 'path:line: what'."""
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative in OWNERS | RECORDERS or relative.startswith("migrations/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            what = None
            if isinstance(node, ast.Call) and _name(node.func) in ROLE_CALLS:
                if (relative, _name(node.func)) not in DISPLAY:
                    what = f"calls {_name(node.func)}()"
            elif isinstance(node, ast.ImportFrom) and node.module == "mobility.roles":
                names = {alias.name for alias in node.names} - {name for where, name in DISPLAY if where == relative}
                if names:
                    what = f"imports {', '.join(sorted(names))} from mobility.roles"
            elif isinstance(node, ast.Call):
                lookups = [kw.arg for kw in node.keywords if kw.arg and LOOKUP.search(kw.arg)]
                if lookups:
                    what = f"queries through {lookups[0]}"
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "__" in node.value \
                    and LOOKUP.search(node.value) and " " not in node.value:
                what = f"names the lookup {node.value!r}"
            elif isinstance(node, ast.Attribute) and node.attr in READS and _name(node.value) in MEMBERSHIP:
                what = f"reads .{_name(node.value)}.{node.attr}"
            elif isinstance(node, ast.Attribute) and node.attr == "is_superuser" \
                    and isinstance(node.ctx, ast.Load):
                what = "reads is_superuser"
            if what:
                found.append(f"mobility/{relative}:{node.lineno}: {what}")
    return found


def test_no_module_but_the_policy_keeps_a_rule():
    assert rule_copies(MOBILITY) == []


@pytest.mark.parametrize("source", [
    "from mobility.roles import has_role\nok = has_role(user, 'admin')\n",
    "qs = Migration.objects.filter(partition__team__members=user)\n",
    "qs = User.objects.filter(is_active=True, groups__name='approver')\n",
    "mine = migration.partition.team.members.filter(pk=user.pk).exists()\n",
    "admin = request.user.is_superuser\n",
    "rows = Migration.objects.values('partition__team__members')\n",
])
def test_the_scan_finds_a_new_copy(tmp_path, source):
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "sneaky.py").write_text(source)
    assert rule_copies(tmp_path), source


def test_the_scan_leaves_writes_and_words_alone(tmp_path):
    (tmp_path / "demo.py").write_text(
        "user.is_superuser = True\nteam.members.add(user)\nuser.groups.add(group)\n"
        "filter_horizontal = ['members']\nhelp = 'Give unowned partitions to the demo teams'\n")
    assert rule_copies(tmp_path) == []
