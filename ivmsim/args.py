"""Strict option parsing for IVM commands: unknown flags, missing values and repeats are refused."""

from __future__ import annotations

from ivmsim import reference as ref
from ivmsim.errors import CommandError


def parse(command: str, argv: list[str], spec: dict[str, str], aliases: dict[str, str] | None = None) -> dict:
    """Parse ``argv`` by ``spec`` ({flag: kind}) into {flag: value}.

    Kinds: ``value`` (next token, not a flag), ``any`` (next token, may start with '-'), ``flag``,
    ``optional`` (a value if one follows, else True), ``multi`` (every following non-flag token,
    ``lsmap -field a b c``). Flag names keep their dashes.
    """
    aliases = aliases or {}
    out: dict[str, object] = {}
    i = 0
    while i < len(argv):
        tok = aliases.get(argv[i], argv[i])
        kind = spec.get(tok)
        if kind is None:
            if tok.startswith("-"):
                raise CommandError(ref.E_USAGE, f"{command}: {argv[i]} is not a valid option.")
            raise CommandError(ref.E_USAGE, f"{command}: unexpected argument {argv[i]}.")
        if tok in out:
            raise CommandError(ref.E_USAGE, f"{command}: the {tok} option was given more than once.")
        if kind == "flag":
            out[tok] = True
        elif kind == "optional":
            if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                i += 1
                out[tok] = argv[i]
            else:
                out[tok] = True
        elif kind == "multi":
            vals = []
            while i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                i += 1
                vals.append(argv[i])
            if not vals:
                raise CommandError(ref.E_USAGE, f"{command}: the {tok} option needs a value.")
            out[tok] = vals
        else:
            if i + 1 >= len(argv) or (argv[i + 1].startswith("-") and argv[i + 1] != "-" and kind != "any"):
                raise CommandError(ref.E_USAGE, f"{command}: the {tok} option needs a value.")
            i += 1
            out[tok] = argv[i]
        i += 1
    return out


def require(command: str, opts: dict, *flags: str) -> None:
    for f in flags:
        if f not in opts:
            raise CommandError(ref.E_USAGE, f"{command}: the {f} option is required.")


def one_of(command: str, opts: dict, *flags: str) -> str:
    given = [f for f in flags if f in opts]
    if len(given) != 1:
        raise CommandError(ref.E_USAGE, f"{command}: exactly one of {' or '.join(flags)} is required.")
    return given[0]


def choice(command: str, opts: dict, flag: str, allowed: tuple[str, ...]) -> str | None:
    v = opts.get(flag)
    if v is not None and v not in allowed:
        raise CommandError(ref.E_BAD_VALUE, f"{command}: {v} is not a valid value for {flag} "
                                            f"(expected {'|'.join(allowed)}).")
    return v


def integer(command: str, opts: dict, flag: str, lo: int, hi: int) -> int | None:
    v = opts.get(flag)
    if v is None:
        return None
    if not str(v).isdigit() or not lo <= int(v) <= hi:
        raise CommandError(ref.E_BAD_VALUE, f"{command}: {v} is not a valid value for {flag} ({lo}-{hi}).")
    return int(v)
