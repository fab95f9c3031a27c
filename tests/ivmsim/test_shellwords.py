"""Command-line tokenising: quoting like sh, only the two supported idioms, nothing run by a shell."""

from __future__ import annotations

import pytest

from ivmsim.shellwords import ShellSyntaxError, parse


def test_quotes_and_escapes():
    p = parse('migrlpar -o m -t "8205-E6C*06A2002" -i "\\"virtual_scsi_mappings=3/vios2/1,4/vios2/1\\"" -p x')
    assert p.argv == ["migrlpar", "-o", "m", "-t", "8205-E6C*06A2002", "-i",
                      '"virtual_scsi_mappings=3/vios2/1,4/vios2/1"', "-p", "x"]
    assert parse("lsdev -dev 'hdisk 1'").argv == ["lsdev", "-dev", "hdisk 1"]


def test_idioms():
    p = parse("ioscli lsdev -dev hdisk1 -attr unique_id | tail -1;echo $?")
    assert (p.argv[-1], p.tail, p.echo_status) == ("unique_id", 1, True)


@pytest.mark.parametrize("line", ["a | b", "a; b", "a && b", "a > f", "echo $HOME", "a `b`", "a $(b)", "'open",
                                  '"open', "a | tail -x"])
def test_refused(line):
    with pytest.raises(ShellSyntaxError):
        parse(line)
