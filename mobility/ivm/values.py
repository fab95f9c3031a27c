"""Validation of every value placed into an IVM command.

Each function takes what a caller (form, plan, inventory row) supplies, returns the canonical string or
int to put in the command, and raises ``InvalidValue`` with a human message otherwise. Commands are also
quoted with ``shlex.quote`` when rendered; validation is the first wall, quoting the second.

Naming rule chosen for partition and system names (IVM documents the 1-47 length for partition names but
not a character set, so we use an allow-list that covers names seen in real fleets):

* 1-47 characters (system names: up to 63), ASCII letters, digits, space and ``_ - . + #``;
* must start with a letter, digit or ``_`` (so never with ``-``, which a command would read as an option);
* no leading/trailing space, no two spaces in a row;
* everything else is refused, in particular control characters and newlines, quotes, shell metacharacters
  (``; & | $ ` < > \\ ( ) * ? [ ] { } ~ ! ^``) and the separators of IVM's own formats (``, = / : "``) which
  would corrupt ``-i`` records, ``--filter`` lists, mapping items and ``-fmt :`` output.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass

from .errors import InvalidValue

PARTITION_NAME_MAX = 47
SYSTEM_NAME_MAX = 63
LPAR_ID_MIN, LPAR_ID_MAX = 1, 254
SLOT_MAX = 65535
VLAN_MIN, VLAN_MAX = 1, 4094

_NAME_OK = re.compile(r"[A-Za-z0-9_][A-Za-z0-9 _.+#-]*")
_SHELL_META = set(";&|$`<>\\()*?[]{}~!^'\"")
_FORMAT_SEPARATORS = {",": "comma", "=": "equals sign", "/": "slash", ":": "colon"}
_MTMS = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{3}\*[0-9A-Z]{7,8}")
_DEVICE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,14}")
_ATTRIBUTE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_WWPN = re.compile(r"[0-9A-Fa-f]{16}")
_DIGITS = re.compile(r"[0-9]+")


def _text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue(field, value, f"must be text, not {type(value).__name__}")
    if value == "":
        raise InvalidValue(field, value, "must not be empty")
    return value


def _describe_bad_char(ch: str) -> str:
    if ch in "\r\n":
        return "contains a newline"
    if unicodedata.category(ch).startswith("C"):
        return f"contains control character U+{ord(ch):04X}"
    if ch in _SHELL_META:
        return f"contains shell metacharacter {ch!r}"
    if ch in _FORMAT_SEPARATORS:
        return f"contains a {_FORMAT_SEPARATORS[ch]} ({ch!r}), which IVM uses as a separator"
    if ch == " ":
        return "has leading, trailing or doubled spaces"
    if ord(ch) > 127:
        return f"contains non-ASCII character {ch!r}"
    return f"contains {ch!r}, which is not allowed (letters, digits, space and _ - . + # only)"


def _name(field: str, value: object, max_len: int) -> str:
    v = _text(field, value)
    for ch in v:
        if ch in "\r\n" or unicodedata.category(ch).startswith("C") or ch in _SHELL_META:
            raise InvalidValue(field, v, _describe_bad_char(ch))
    if v.startswith("-"):
        raise InvalidValue(field, v, "must not start with '-' (it would be read as an option)")
    if len(v) > max_len:
        raise InvalidValue(field, v, f"is {len(v)} characters long; at most {max_len} are allowed")
    if v != v.strip() or "  " in v:
        raise InvalidValue(field, v, "has leading, trailing or doubled spaces")
    if not _NAME_OK.fullmatch(v):
        bad = next((c for c in v if not re.fullmatch(r"[A-Za-z0-9 _.+#-]", c)), v[0])
        raise InvalidValue(field, v, _describe_bad_char(bad))
    return v


def partition_name(value: object, field: str = "partition name") -> str:
    """A partition (LPAR) name: 1-47 characters of the allow-list in the module docstring."""
    return _name(field, value, PARTITION_NAME_MAX)


def system_name(value: object, field: str = "managed system") -> str:
    """A managed-system reference: either its user-defined name or the ``tttt-mmm*ssssssss`` form."""
    v = _text(field, value)
    if _MTMS.fullmatch(v):
        return v
    if "*" in v:
        raise InvalidValue(field, v, "looks like type-model*serial but is not of the form tttt-mmm*ssssssss")
    return _name(field, v, SYSTEM_NAME_MAX)


def device_name(value: object, field: str = "device name") -> str:
    """A VIOS device (hdisk4, vhost0, ent4, fcs0, a custom VTD): letter first, 1-15 of [A-Za-z0-9_.-]."""
    v = _text(field, value)
    if not _DEVICE.fullmatch(v):
        for ch in v:
            if not re.fullmatch(r"[A-Za-z0-9_.-]", ch):
                raise InvalidValue(field, v, _describe_bad_char(ch))
        if len(v) > 15:
            raise InvalidValue(field, v, "AIX device names are at most 15 characters")
        raise InvalidValue(field, v, "must start with a letter")
    return v


def attribute_name(value: object, field: str = "attribute name") -> str:
    """An IVM/ODM attribute name such as ``lpar_id`` or ``reserve_policy``."""
    v = _text(field, value)
    if not _ATTRIBUTE.fullmatch(v):
        raise InvalidValue(field, v, "must be lower-case letters, digits and '_', starting with a letter")
    return v


def _integer(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise InvalidValue(field, value, "must be a whole number, not a boolean")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise InvalidValue(field, value, "must be a whole number written with digits only")
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        raise InvalidValue(field, value, f"must be a whole number, not {type(value).__name__}")
    if not low <= number <= high:
        raise InvalidValue(field, value, f"must be between {low} and {high}")
    return number


def lpar_id(value: object, field: str = "partition id") -> int:
    """A partition id, 1-254."""
    return _integer(field, value, LPAR_ID_MIN, LPAR_ID_MAX)


def slot(value: object, *, max_slots: int | None = None, field: str = "virtual slot") -> int:
    """A virtual slot number, 0-65535, and below ``max_slots`` (e.g. the management partition's
    ``curr_max_virtual_slots``) when that is given."""
    number = _integer(field, value, 0, SLOT_MAX)
    if max_slots is not None and number >= max_slots:
        raise InvalidValue(field, value, f"must be below the partition's maximum of {max_slots} virtual slots")
    return number


def vlan_id(value: object, field: str = "VLAN id") -> int:
    """An IEEE 802.1Q VLAN id, 1-4094 (0 and 4095 are reserved)."""
    return _integer(field, value, VLAN_MIN, VLAN_MAX)


def positive_int(value: object, field: str, high: int) -> int:
    """A whole number from 1 to ``high`` (wait minutes, counts)."""
    return _integer(field, value, 1, high)


def wwpn(value: object, field: str = "WWPN") -> str:
    """A Fibre Channel WWPN: exactly 16 hex digits; returned in lower case as IVM prints it."""
    v = _text(field, value)
    if not _WWPN.fullmatch(v):
        raise InvalidValue(field, v, "must be exactly 16 hexadecimal digits")
    return v.lower()


_MAC = re.compile(r"[0-9A-Fa-f]{12}")


def mac_address(value: object, field: str = "MAC address") -> str:
    """A virtual Ethernet MAC address as IVM prints it: exactly 12 hex digits (``26E6B0002007``), upper case."""
    v = _text(field, value)
    if not _MAC.fullmatch(v):
        raise InvalidValue(field, v, "must be exactly 12 hexadecimal digits")
    return v.upper()


def host(value: object, field: str = "host") -> str:
    """An IPv4/IPv6 address or a DNS host name (RFC 1123 labels, at most 253 characters)."""
    v = _text(field, value)
    try:
        return str(ipaddress.ip_address(v))
    except ValueError:
        pass
    name = v[:-1] if v.endswith(".") else v
    if len(name) > 253:
        raise InvalidValue(field, v, "host names are at most 253 characters")
    for label in name.split("."):
        if not _HOST_LABEL.fullmatch(label):
            raise InvalidValue(field, v, "is neither an IP address nor a valid host name")
    if name.replace(".", "").isdigit():
        raise InvalidValue(field, v, "looks numeric but is not a valid IPv4 address")
    return name


def user_name(value: object, field: str = "user name") -> str:
    """A login name on an IVM (normally ``padmin``)."""
    v = _text(field, value)
    if not _USER.fullmatch(v):
        raise InvalidValue(field, v, "must be 1-32 of [A-Za-z0-9_.-], starting with a letter or '_'")
    return v


# --- migrlpar -i mapping items (ivm-cli.md §4.1) -------------------------------------------------


@dataclass(frozen=True)
class ScsiMapping:
    """``client-slot/vios-lpar-name/vios-lpar-ID[/vios-virtual-slot]``; name or id, not both."""

    client_slot: int
    vios_name: str | None = None
    vios_id: int | None = None
    vios_slot: int | None = None

    def render(self) -> str:
        return scsi_mapping(self)


@dataclass(frozen=True)
class FcMapping:
    """``client-slot/vios-lpar-name/vios-lpar-ID[/[vios-virtual-slot][/[vios-fc-port-name]]]``."""

    client_slot: int
    vios_name: str | None = None
    vios_id: int | None = None
    vios_slot: int | None = None
    fc_port: str | None = None

    def render(self) -> str:
        return fc_mapping(self)


def _vios_ref(field: str, raw: object, name: object, ident: object) -> tuple[str, str]:
    name_s = "" if name in (None, "") else partition_name(name, f"{field} VIOS name")
    id_s = "" if ident in (None, "") else str(lpar_id(ident, f"{field} VIOS id"))
    if bool(name_s) == bool(id_s):
        raise InvalidValue(field, raw, "give the VIOS partition name or its id, exactly one of them")
    return name_s, id_s


def scsi_mapping(value: str | ScsiMapping, field: str = "virtual SCSI mapping") -> str:
    """Validate one ``virtual_scsi_mappings`` item and return its canonical text."""
    if isinstance(value, ScsiMapping):
        parts = [value.client_slot, value.vios_name, value.vios_id]
        if value.vios_slot is not None:
            parts.append(value.vios_slot)
    else:
        parts = _text(field, value).split("/")
        if len(parts) not in (3, 4):
            raise InvalidValue(field, value, "expected client-slot/vios-name/vios-id[/vios-slot]")
    out = [str(slot(parts[0], field=f"{field} client slot")), *_vios_ref(field, value, parts[1], parts[2])]
    if len(parts) == 4:
        out.append(str(slot(parts[3], field=f"{field} VIOS slot")))
    return "/".join(out)


def fc_mapping(value: str | FcMapping, field: str = "virtual FC mapping") -> str:
    """Validate one ``virtual_fc_mappings`` item and return its canonical text."""
    if isinstance(value, FcMapping):
        parts: list[object] = [value.client_slot, value.vios_name, value.vios_id]
        if value.vios_slot is not None or value.fc_port is not None:
            parts.append(value.vios_slot)
        if value.fc_port is not None:
            parts.append(value.fc_port)
    else:
        parts = list(_text(field, value).split("/"))
        if len(parts) not in (3, 4, 5):
            raise InvalidValue(field, value, "expected client-slot/vios-name/vios-id[/[vios-slot][/[fc-port]]]")
    out = [str(slot(parts[0], field=f"{field} client slot")), *_vios_ref(field, value, parts[1], parts[2])]
    if len(parts) >= 4:
        out.append("" if parts[3] in (None, "") else str(slot(parts[3], field=f"{field} VIOS slot")))
    if len(parts) == 5:
        out.append("" if parts[4] in (None, "") else device_name(parts[4], f"{field} FC port"))
    return "/".join(out)
