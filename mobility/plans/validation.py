"""Validation with IVM (``migrlpar -o v`` on the source IVM), its messages mapped onto the requirement checks.

Talks to IVM only through ``mobility.inventory.connections.client_for``; an IVM problem is part of the answer,
never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from mobility import planning
from mobility.governance import audit
from mobility.inventory.connections import about_migration, client_for
from mobility.ivm import CommandFailed, IVMError, commands
from mobility.models import Migration
from mobility.planning.mapping_syntax import FC, SCSI

# IVM's message codes (as ivmsim prints them: reconstructed, see ivmsim/FLEET.md) → the check they belong to.
# A code IVM shares between two checks is told apart by `_refine`.
CODE_TO_CHECK = {
    "VIOSE010401A1-0042": "state",
    "VIOSE0104A001-0001": "not_vios",
    "VIOSE0104A001-0002": "state",
    "VIOSE0104A001-0003": "migration_state",
    "VIOSE0104A002-0001": "dest_console",
    "VIOSE0104A002-0002": "dest_is_source",
    "VIOSE0104A002-0003": "dest_console",
    "VIOSE0104A002-0004": "dest_console",
    "VIOSE0104A002-0005": "dest_console",
    "VIOSE0104A003-0001": "capability",
    "VIOSE0104A003-0002": "dest_capability",
    "VIOSE0104A003-0003": "lmb_size",
    "VIOSE0104A003-0004": "compat_mode",
    "VIOSE0104A004-0001": "rmc",
    "VIOSE0104A004-0002": "dlpar",
    "VIOSE0104A004-0003": "physical_io",
    "VIOSE0104A004-0004": "vopt",
    "VIOSE0104A005-0001": "disk_backing",
    "VIOSE0104A005-0002": "reserve_policy",
    "VIOSE0104A005-0003": "lun_visible",
    "VIOSE0104A005-0004": "npiv_ports",
    "VIOSE0104A006-0001": "vlans_bridged",
    "VIOSE0104A006-0002": "vlans_bridged",
    "VIOSE0104A007-0001": "name_free",
    "VIOSE0104A007-0002": "mappings",
    "VIOSE0104A008-0001": "memory",
    "VIOSE0104A008-0002": "processors",
    "VIOSE0104A008-0003": "virtual_slots",
    "VIOSE0104A009-0001": "mappings",
    "VIOSE0104A00A-0001": "migration_limit",
    "VIOSE0104A00A-0002": "migration_limit",
    "HSCLA319": "npiv_ports",  # HMC wording for the same NPIV rule (ivm-cli.md)
    "HSCL3653": "dest_console",
}
_MESSAGE_LINE = re.compile(r"^\s*\[(?P<code>[A-Z0-9]+-[0-9A-Z]+)\]\s*(?P<text>.*)$|^\s*(?P<hmc>HSCL[0-9A-F]{4})\s+(?P<htext>.*)$")


def _refine(key: str, text: str, plan: dict) -> str:
    """Codes IVM uses for both servers: the text names which one."""
    if key == "reserve_policy" and " on " in text.split("reserve_policy")[0]:
        return "dest_reserve_policy"  # "Physical volume hdisk7 on ivm2 backing ..."
    if key == "migration_limit" and plan["destination"] in text:
        return "dest_migration_limit"
    if key == "rmc" and plan["partition"] not in text:
        return "dest_console"  # a management partition's RMC, not the mobile partition's
    return key


def map_ivm_messages(output: str, plan: dict) -> tuple[dict[str, list[dict]], list[dict]]:
    """Split IVM's error output into messages per check key, and the lines no check claims (shown as IVM wrote
    them). `plan` names the partition and destination so that shared codes can be told apart."""
    by_check: dict[str, list[dict]] = {}
    unknown: list[dict] = []
    for line in output.splitlines():
        if not line.strip():
            continue
        match = _MESSAGE_LINE.match(line)
        code = (match.group("code") or match.group("hmc")) if match else None
        text = (match.group("text") if match.group("code") else match.group("htext")) if match else line.strip()
        key = CODE_TO_CHECK.get(code or "")
        message = {"code": code or "", "text": text}
        if key is None:
            unknown.append(message)
        else:
            by_check.setdefault(_refine(key, text, plan), []).append(message)
    return by_check, unknown


def migrlpar_validate_command(partition, destination, mappings: Sequence[planning.AdapterMapping]):
    """The `migrlpar -o v` command for this plan (every value validated by the command builder)."""
    rows = list(mappings)
    return commands.migrlpar(
        "v", target_system=destination.mtms, target_ip=destination.console.host,
        target_user=destination.console.username, lpar_name=partition.name,
        scsi_mappings=[planning.format_mapping(m) for m in rows if m.kind == SCSI],
        fc_mappings=[planning.format_mapping(m) for m in rows if m.kind == FC],
    )


def validate_plan(partition, destination, mappings: Sequence[planning.AdapterMapping], *, user=None,
                  migration: Migration | None = None) -> dict:
    """Ask the source IVM to validate the move (`migrlpar -o v`) and map its answer onto the checks.

    Returns {"ok", "command", "checks": {key: [{"code", "text"}]}, "ivm_says": [...], "error", "ran_at"};
    records `plan.validated`. Never raises for an IVM problem: it is part of the answer.
    """
    started = timezone.now()
    result: dict[str, Any] = {"ok": False, "command": "", "checks": {}, "ivm_says": [], "error": ""}
    try:
        command = migrlpar_validate_command(partition, destination, mappings)
        result["command"] = command.redacted()
        # -o v only reads; retry_safe lets the client re-run it on a fresh transport if the old one died.
        with about_migration(migration.pk if migration is not None else None):
            client_for(partition.system.console).run(command, check=True, retry_safe=True)
        result["ok"] = True
    except CommandFailed as exc:
        output = "\n".join(x for x in (exc.stderr, exc.stdout) if x.strip()) or f"[{exc.code or ''}] {exc.text}"
        checks, unknown = map_ivm_messages(output, {"partition": partition.name, "destination": destination.name})
        result["checks"], result["ivm_says"] = checks, unknown
    except IVMError as exc:  # connection, host key, timeout, a value the builder refused
        result["error"] = str(exc)
    result["ran_at"] = started.isoformat()
    audit.record("plan.validated", actor=user, obj=migration or partition,
                 data={"partition": partition.name, "destination": destination.name, "ok": result["ok"],
                       "checks": sorted(result["checks"]), "ivm_says": result["ivm_says"],
                       "error": result["error"]})
    return result
