"""Builders for every IVM command ivmweb sends.

Each builder validates every value (``values``) before it builds anything, and returns a ``Command``: the
argv tuple, how its output is parsed, and whether it only reads. ``render()`` quotes each argument with
``shlex.quote`` for the padmin ksh, so even a value that slipped past validation stays one word.
VIOS commands get the ``ioscli`` prefix that non-interactive exec channels need (ivm-cli.md §3.1).
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from . import parse
from . import values as v
from .errors import InvalidValue
from .values import FcMapping, ScsiMapping


@functools.lru_cache(maxsize=2048)
def _quoted(argv: tuple[str, ...]) -> str:
    """The quoted command line of a command without secrets: an inventory sync sends the same ~60 commands to
    every IVM, each rendered for the batch line, its audit record and its log line."""
    return " ".join(shlex.quote(a) for a in argv)


# Delimiters allowed for -F: single punctuation characters that IVM values of interest do not contain.
DELIMITERS = frozenset(",:;|/#@%+~!^")
WAIT_MINUTES_MAX = 1440


@dataclass(frozen=True)
class Command:
    """One remote command. ``kind`` names the parser for its stdout (see ``parse_output``)."""

    argv: tuple[str, ...]
    read_only: bool = True
    kind: str = "none"
    fields: tuple[str, ...] | None = None
    delimiter: str = ","
    header: bool = False
    secret_positions: frozenset[int] = field(default_factory=frozenset)

    def render(self) -> str:
        """The command line sent on the exec channel, each argument quoted for the remote shell."""
        if self.secret_positions:  # never kept in the cache below
            return " ".join(shlex.quote(a) for a in self.argv)
        return _quoted(self.argv)

    def redacted(self) -> str:
        """``render()`` with secret arguments replaced, for logs and the audit trail."""
        if not self.secret_positions:
            return _quoted(self.argv)
        return " ".join(
            "'***'" if i in self.secret_positions else shlex.quote(a) for i, a in enumerate(self.argv)
        )

    @property
    def name(self) -> str:
        """The IVM command name, without the ``ioscli`` prefix (``lssyscfg``, ``lsmap``...)."""
        return self.argv[1] if self.argv[0] == "ioscli" else self.argv[0]

    def parse_output(self, stdout: str):
        """Parse ``stdout`` with the parser that matches how this command was built."""
        if self.kind == "records":
            return parse.parse_records(stdout)
        if self.kind == "fields":
            return parse.parse_fields(stdout, self.fields, self.delimiter, header=self.header)
        if self.kind == "lsmap":
            return parse.parse_lsmap(stdout)
        if self.kind == "lsmap_fmt":
            return parse.parse_lsmap_fmt(stdout, self.fields)
        if self.kind == "npiv_fmt":
            return parse.parse_lsmap_npiv_fmt(stdout, self.fields)
        if self.kind == "lsdev_attr":
            return parse.parse_lsdev_attr(stdout)
        if self.kind == "lsdev_table":
            return parse.parse_lsdev_table(stdout)
        if self.kind == "lsnports":
            return parse.parse_lsnports(stdout)
        if self.kind == "lsmap_net":
            return parse.parse_lsmap_net(stdout)
        if self.kind == "lsdev_attr_table":
            return parse.parse_lsdev_attr_table(stdout)
        return stdout

    def __str__(self) -> str:
        return self.redacted()


def _one_of(name: str, value: object, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InvalidValue(name, value, f"must be one of {', '.join(allowed)}")
    return value  # type: ignore[return-value]


def _as_list(value: object) -> list:
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    return list(value)  # type: ignore[arg-type]


def _filter_args(lpar_names: object = None, lpar_ids: object = None) -> list[str]:
    """``--filter`` with partition names and/or ids (comma lists; quoted pairs when both are given)."""
    filters: dict[str, list[str]] = {}
    names = [v.partition_name(n) for n in _as_list(lpar_names)]
    ids = [str(v.lpar_id(i)) for i in _as_list(lpar_ids)]
    if names:
        filters["lpar_names"] = names
    if ids:
        filters["lpar_ids"] = ids
    if not filters:
        return []
    # IBM's filter syntax (HMC lssyscfg man page): several values for one filter go in a quoted pair,
    # ""lpar_names=a,b",lpar_ids=3"; a single value stays bare. format_record quotes exactly the pairs with a comma.
    return ["--filter", parse.format_record({k: ",".join(vals) for k, vals in filters.items()})]


def _format_args(fields: Iterable[str] | None, delimiter: str, header: bool) -> tuple[list[str], tuple | None]:
    if fields is None:
        if header:
            raise InvalidValue("header", header, "--header needs -F fields")
        return [], None
    names = tuple(v.attribute_name(f, "-F field") for f in _as_list(fields))
    if not names:
        raise InvalidValue("-F fields", fields, "give at least one field")
    if delimiter not in DELIMITERS:
        raise InvalidValue("delimiter", delimiter, f"must be one of {' '.join(sorted(DELIMITERS))}")
    args = ["-F", delimiter.join(names)]
    if header:
        args.append("--header")
    return args, names


def _listing(argv: list[str], fields, delimiter: str, header: bool) -> Command:
    fmt, names = _format_args(fields, delimiter, header)
    return Command(
        tuple(argv + fmt), read_only=True, kind="fields" if names else "records",
        fields=names, delimiter=delimiter, header=header,
    )


def lssyscfg(
    r: str, *, fields: Iterable[str] | None = None, delimiter: str = ",", header: bool = False,
    lpar_names: object = None, lpar_ids: object = None,
) -> Command:
    """``lssyscfg -r sys|lpar|prof [--filter ...] [-F ... [--header]]``."""
    _one_of("lssyscfg -r", r, ("sys", "lpar", "prof"))
    filt = _filter_args(lpar_names, lpar_ids)
    if filt and r == "sys":
        raise InvalidValue("lssyscfg filter", filt[1], "-r sys takes no partition filter")
    return _listing(["lssyscfg", "-r", r, *filt], fields, delimiter, header)


_HWRES_VIRTUALIO = ("eth", "scsi", "fc", "slot", "serial")


def lshwres(
    r: str, *, rsubtype: str | None = None, level: str | None = None,
    fields: Iterable[str] | None = None, delimiter: str = ",", header: bool = False,
    lpar_names: object = None, lpar_ids: object = None,
) -> Command:
    """``lshwres`` for virtual I/O (eth|scsi|fc|serial at lpar level, slot at lpar|slot level),
    memory/processors (sys|lpar level) and physical I/O slots (``-r io --rsubtype slot``)."""
    _one_of("lshwres -r", r, ("virtualio", "mem", "proc", "io"))
    argv = ["lshwres", "-r", r]
    if r == "virtualio":
        _one_of("lshwres --rsubtype", rsubtype, _HWRES_VIRTUALIO)
        _one_of("lshwres --level", level, ("lpar", "slot") if rsubtype == "slot" else ("lpar",))
        argv += ["--rsubtype", rsubtype, "--level", level]
    elif r in ("mem", "proc"):
        if rsubtype is not None:
            raise InvalidValue("lshwres --rsubtype", rsubtype, f"-r {r} takes no subtype")
        _one_of("lshwres --level", level, ("sys", "lpar"))
        argv += ["--level", level]
    else:
        _one_of("lshwres --rsubtype", rsubtype, ("slot",))
        if level is not None:
            raise InvalidValue("lshwres --level", level, "-r io --rsubtype slot takes no level")
        argv += ["--rsubtype", "slot"]
    filt = _filter_args(lpar_names, lpar_ids)
    if filt and level == "sys":
        raise InvalidValue("lshwres filter", filt[1], "--level sys takes no partition filter")
    return _listing(argv + filt, fields, delimiter, header)


def lsmap_all(npiv: bool = False, fields: Iterable[str] | None = None) -> Command:
    """``ioscli lsmap -all`` (plain), or with ``-field ... -fmt :``; NPIV always uses ``-fmt :``."""
    if npiv:
        order = parse.npiv_field_order(fields)
        field_args = [] if fields is None else ["-field", *order]
        return Command(("ioscli", "lsmap", "-all", "-npiv", *field_args, "-fmt", ":"),
                       kind="npiv_fmt", fields=order, delimiter=":")
    if fields is None:
        return Command(("ioscli", "lsmap", "-all"), kind="lsmap")
    order = parse.lsmap_field_order(fields)
    return Command(("ioscli", "lsmap", "-all", "-field", *order, "-fmt", ":"),
                   kind="lsmap_fmt", fields=order, delimiter=":")


def lsdev_attr(dev: str, attr: str) -> Command:
    """``ioscli lsdev -dev hdisk4 -attr reserve_policy``: prints header, blank line, value."""
    return Command(("ioscli", "lsdev", "-dev", v.device_name(dev), "-attr", v.attribute_name(attr)),
                   kind="lsdev_attr")


def lsmap_net() -> Command:
    """``ioscli lsmap -all -net``: each virtual Ethernet trunk adapter (SVEA) and the SEA that bridges it."""
    return Command(("ioscli", "lsmap", "-all", "-net"), kind="lsmap_net")


def lsdev_attrs(dev: str) -> Command:
    """``ioscli lsdev -dev X -attr``: every attribute of a device in one table (lsattr -El layout)."""
    return Command(("ioscli", "lsdev", "-dev", v.device_name(dev), "-attr"), kind="lsdev_attr_table")


def lsdev_sea() -> Command:
    """``ioscli lsdev -type sea``: the Shared Ethernet Adapters of the management partition."""
    return Command(("ioscli", "lsdev", "-type", "sea"), kind="lsdev_table")


def lsnports() -> Command:
    """``ioscli lsnports``: the NPIV-capable FC ports and their free virtual ports."""
    return Command(("ioscli", "lsnports"), kind="lsnports")


def _target_args(target_system, target_ip, target_user) -> list[str]:
    args = []
    if target_system is not None:
        args += ["-t", v.system_name(target_system, "target system")]
    if target_ip is not None:
        args += ["--ip", v.host(target_ip, "target IVM address")]
    if target_user is not None:
        if target_ip is None:
            raise InvalidValue("target user", target_user, "-u needs --ip")
        args += ["-u", v.user_name(target_user, "target user")]
    return args


def _partition_args(lpar_name, lpar_id, *, name_flag: str = "-p") -> list[str]:
    if (lpar_name is None) == (lpar_id is None):
        raise InvalidValue("partition", lpar_name if lpar_id is None else lpar_id,
                           "give the partition name or its id, exactly one of them")
    if lpar_name is not None:
        return [name_flag, v.partition_name(lpar_name)]
    return ["--id", str(v.lpar_id(lpar_id))]


def lslparmigr(
    r: str, *, fields: Iterable[str] | None = None, delimiter: str = ",", header: bool = False,
    lpar_names: object = None, lpar_ids: object = None,
    target_system: str | None = None, target_ip: str | None = None, target_user: str | None = None,
) -> Command:
    """``lslparmigr -r sys|lpar|virtualio|msp|procpool|mempool``; the last four need a target (-t, --ip)."""
    _one_of("lslparmigr -r", r, ("sys", "lpar", "virtualio", "msp", "procpool", "mempool"))
    filt = _filter_args(lpar_names, lpar_ids)
    target = _target_args(target_system, target_ip, target_user)
    if r == "sys" and (filt or target):
        raise InvalidValue("lslparmigr -r sys", filt or target, "takes no filter and no target")
    if r in ("virtualio", "msp", "procpool", "mempool"):
        if target_system is None or target_ip is None:
            raise InvalidValue(f"lslparmigr -r {r}", target_system, "needs target_system and target_ip")
        if r in ("virtualio", "msp") and not filt:
            raise InvalidValue(f"lslparmigr -r {r}", None, "needs a partition (lpar_names or lpar_ids)")
    elif target:
        raise InvalidValue(f"lslparmigr -r {r}", target, "takes no target")
    return _listing(["lslparmigr", "-r", r, *target, *filt], fields, delimiter, header)


def migrlpar(
    op: str, *, target_system: str | None = None, target_ip: str | None = None,
    target_user: str | None = None, lpar_name: str | None = None, lpar_id: int | None = None,
    scsi_mappings: Iterable[str | ScsiMapping] = (), fc_mappings: Iterable[str | FcMapping] = (),
    dest_lpar_id: int | None = None, async_: bool = False, force: bool = False,
    wait_minutes: int | None = None, source_system: str | None = None,
) -> Command:
    """``migrlpar -o v|m|s|r`` (ivm-cli.md §4.1).

    ``v``/``m`` need ``target_system`` and ``target_ip`` (on IVM every move goes to another IVM). Mapping
    lists and ``dest_lpar_id`` go into one ``-i`` record using the quoted-pair rule of §3.3. ``s``/``r``
    name only the partition (and ``source_system`` as ``-m`` if given); ``r`` may add ``--force`` and the
    target IVM. Always a mutating command: never retried automatically.
    """
    _one_of("migrlpar -o", op, ("v", "m", "s", "r"))
    argv = ["migrlpar", "-o", op]
    if source_system is not None:
        argv += ["-m", v.system_name(source_system, "source system")]
    scsi = [v.scsi_mapping(m) for m in _as_list(scsi_mappings)]
    fc = [v.fc_mapping(m) for m in _as_list(fc_mappings)]
    if op in ("v", "m"):
        if target_system is None or target_ip is None:
            raise InvalidValue("migrlpar target", target_system or target_ip,
                               "validate/migrate need target_system and target_ip")
        if force:
            raise InvalidValue("force", force, "--force only applies to recovery (-o r)")
    else:
        if target_system is not None:
            raise InvalidValue("target system", target_system, f"-o {op} takes no target system")
        if scsi or fc or dest_lpar_id is not None or wait_minutes is not None:
            raise InvalidValue("migrlpar -o " + op, "mappings/dest_lpar_id/wait", "only apply to -o v and -o m")
        if op == "s" and (target_ip is not None or force):
            raise InvalidValue("migrlpar -o s", target_ip or force, "stop takes only the partition")
    if async_ and op != "m":
        raise InvalidValue("async", async_, "--async only applies to -o m")
    argv += _target_args(target_system, target_ip, target_user)
    argv += _partition_args(lpar_name, lpar_id)
    record: dict[str, object] = {}
    if scsi:
        record["virtual_scsi_mappings"] = ",".join(scsi)
    if fc:
        record["virtual_fc_mappings"] = ",".join(fc)
    if dest_lpar_id is not None:
        record["dest_lpar_id"] = v.lpar_id(dest_lpar_id, "destination partition id")
    if record:
        argv += ["-i", parse.format_record(record)]
    if wait_minutes is not None:
        argv += ["-w", str(v.positive_int(wait_minutes, "wait minutes", WAIT_MINUTES_MAX))]
    if async_:
        argv.append("--async")
    if force:
        argv.append("--force")
    return Command(tuple(argv), read_only=(op == "v"))


def chsysstate(op: str, *, lpar_name: str | None = None, lpar_id: int | None = None,
               immed: bool = False) -> Command:
    """``chsysstate -r lpar -o on|shutdown|osshutdown [--immed] -n NAME | --id N``."""
    _one_of("chsysstate -o", op, ("on", "shutdown", "osshutdown"))
    if immed and op != "shutdown":
        raise InvalidValue("immed", immed, "--immed only applies to -o shutdown")
    argv = ["chsysstate", "-r", "lpar", "-o", op]
    if immed:
        argv.append("--immed")
    argv += _partition_args(lpar_name, lpar_id, name_flag="-n")
    return Command(tuple(argv), read_only=False)


def mkauthkeys_test(ip: str, user: str) -> Command:
    """``mkauthkeys --test --ip IP -u USER``: exit 0 when key trust to the target IVM is in place."""
    return Command(("mkauthkeys", "--test", "--ip", v.host(ip, "target IVM address"),
                    "-u", v.user_name(user, "target user")))
