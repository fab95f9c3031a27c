"""The live page in words: why a step does not apply, what the figures mean once the migration stopped, an ETA a
person can read, one sentence per event, and what an IVM's "No results" answer means for the command asked."""

import re

from django.template.defaultfilters import filesizeformat

from mobility.choices import STEP_BY_NUMBER, MigrationMode, MigrationStatus, StepStatus
from mobility.ivm.parse import is_no_results

# The steps of IBM's 11 that one mode skips, and why (ivm-cli.md §1.2).
NOT_APPLICABLE = {
    (MigrationMode.ACTIVE, 2): "An active move keeps the partition running: it is never shut down.",
    (MigrationMode.ACTIVE, 10): "An active move resumes the partition on the destination itself (step 8): there is "
                                "nothing to activate.",
    (MigrationMode.INACTIVE, 7): "An inactive partition is not running: there is nothing to suspend.",
    (MigrationMode.INACTIVE, 8): "An inactive partition is not running: nothing resumes (step 10 activates it on the "
                                 "destination when the plan asks).",
}

# Figures that stop moving: what the page says above them instead of a rate, an ETA and "converging".
FROZEN = {
    MigrationStatus.STOPPING: "Stopping: the figures as they stood when the stop was asked",
    MigrationStatus.RECOVERING: "Recovering: the figures as they stood when the transfer ended",
    MigrationStatus.STOPPED: "Stopped: the figures as they stood at the stop",
    MigrationStatus.FAILED: "Failed: the figures as they stood at the failure",
    MigrationStatus.CANCELLED: "Cancelled: the figures as they stood then",
    MigrationStatus.COMPLETED: "Completed: the final figures",
}


def frozen_label(status: str) -> str | None:
    return FROZEN.get(status)


def _duration(seconds: float) -> tuple[int, str]:
    if seconds < 90:
        return round(seconds), "second"
    if seconds < 90 * 60:
        return round(seconds / 60), "minute"
    return round(seconds / 3600), "hour"


def eta_words(eta) -> str:
    """``[fastest, slowest]`` seconds left as a person says it: "about 20 seconds left", "2–3 minutes left"."""
    try:
        low, high = sorted(float(v) for v in eta)
    except (TypeError, ValueError):
        return ""
    if high < 5:
        return "a few seconds left"
    (a, unit), (b, unit_high) = _duration(low), _duration(high)
    if unit != unit_high:  # "50 seconds–2 minutes": say the larger unit for both ends
        a, unit = max(round(low / (60 if unit_high == "minute" else 3600)), 1), unit_high
    if a == b:
        return f"about {b} {unit}{'s' if b != 1 else ''} left"
    return f"{a}–{b} {unit}s left"


def _gb(value) -> str:
    return filesizeformat(value or 0)


# What "No results were found" means, by the command that got it (the IVM prints it where a list would be empty).
_NO_RESULTS_MEANING = (
    (re.compile(r"^lsnports\b"), "no NPIV-capable Fibre Channel ports"),
    (re.compile(r"--rsubtype\s+fc\b|-npiv\b|\bvfc"), "no Fibre Channel adapters"),
    (re.compile(r"--rsubtype\s+scsi\b|^lsmap\b"), "no virtual SCSI adapters"),
    (re.compile(r"--rsubtype\s+eth\b"), "no virtual Ethernet adapters"),
    (re.compile(r"^lslparmigr\b"), "no migration to report for this partition"),
    (re.compile(r"^lssyscfg\b"), "no such partition"),
)


def no_results_meaning(command: str) -> str:
    command = command.strip()
    return next((meaning for pattern, meaning in _NO_RESULTS_MEANING if pattern.search(command)), "nothing to list")


def command_answer(payload: dict) -> dict:
    """A command event's answer: ``no_results`` (the meaning, when the IVM answered "No results were found."), and
    whether it is an error to show as one."""
    output, error = payload.get("output") or "", payload.get("error") or ""
    no_results = next((text for text in (output, error) if text and is_no_results(text)), None)
    if no_results is not None and payload.get("exit") in (0, None):
        return {"no_results": no_results_meaning(payload.get("command") or ""), "error": "",
                "output": "" if output == no_results else output}
    return {"no_results": None, "error": error, "output": output}


def _step_label(number) -> str:
    step = STEP_BY_NUMBER.get(number)
    return f"Step {number} ({step.title})" if step else f"Step {number}"


def event_line(kind: str, payload: dict) -> str:
    """One event as a sentence (command events have their own layout: see ``command_answer``)."""
    p = payload if isinstance(payload, dict) else {}
    if kind == "step":
        status = StepStatus(p["status"]).label if p.get("status") in StepStatus.values else p.get("status", "")
        return f"{_step_label(p.get('number'))}: {status.lower()}" + (
            f" — {p['detail']}" if p.get("detail") else "")
    if kind == "status":
        status = p.get("status")
        label = MigrationStatus(status).label if status in MigrationStatus.values else str(status)
        return label + (f" — {p['outcome']}" if p.get("outcome") else "")
    if kind == "progress":
        line = f"{p.get('percent', 0)} % sent ({_gb(p.get('sent'))}"
        line += f", {_gb(p.get('remaining'))} remaining)" if p.get("remaining") is not None else ")"
        return line + (f"; the IVM reports “{p['state']}”" if p.get("state") else "")
    if kind == "suspend":
        return (f"Suspend window at most {p.get('window_s')} s (no poll saw the partition suspended)" if p.get("bound")
                else f"Suspend window about {p.get('window_s')} s")
    if kind == "stuck":
        return "No progress since the last figures: the transfer may be stuck"
    if kind == "request":
        who = p.get("by") or "someone"
        line = f"{who} asked to {p.get('action', 'act')}"
        return line + (f" — {p['reason']}" if p.get("reason") else "")
    details = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in p.items() if k != "at" and v not in (None, ""))
    return f"{kind.replace('_', ' ').capitalize()}" + (f" — {details}" if details else "")
