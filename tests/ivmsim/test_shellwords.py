"""Command-line tokenising: quoting like sh, only the idioms IVM automation uses, nothing run by a shell."""

from __future__ import annotations

import pytest

from ivmsim.shellwords import Echo, Pipeline, ShellSyntaxError, parse


def test_quotes_and_escapes():
    [p] = parse('migrlpar -o m -t "8205-E6C*06A2002" -i "\\"virtual_scsi_mappings=3/vios2/1,4/vios2/1\\"" -p x')
    assert p.argv == ["migrlpar", "-o", "m", "-t", "8205-E6C*06A2002", "-i",
                      '"virtual_scsi_mappings=3/vios2/1,4/vios2/1"', "-p", "x"]
    assert parse("lsdev -dev 'hdisk 1'")[0].argv == ["lsdev", "-dev", "hdisk 1"]


def test_tail_and_echo_status():
    p, e = parse("ioscli lsdev -dev hdisk1 -attr unique_id | tail -1;echo $?")
    assert (p.argv[-1], p.tail, p.text) == ("unique_id", 1, "ioscli lsdev -dev hdisk1 -attr unique_id")
    assert e == Echo(["$?"]) and e.render(3) == "3\n"


def test_command_list_keeps_each_command_as_sent():
    steps = parse("lssyscfg -r sys ; echo :end:ab12: $? ; ioscli lsmap -all -fmt ':' ;echo :end:ab12: $?")
    assert steps == [Pipeline(["lssyscfg", "-r", "sys"], text="lssyscfg -r sys"), Echo([":end:ab12:", "$?"]),
                     Pipeline(["ioscli", "lsmap", "-all", "-fmt", ":"], text="ioscli lsmap -all -fmt ':'"),
                     Echo([":end:ab12:", "$?"])]
    assert steps[1].render(0) == ":end:ab12: 0\n"


@pytest.mark.parametrize("line", ["a | b", "a && b", "a || b", "a > f", "echo $HOME", "a `b`", "a $(b)", "'open",
                                  '"open', "a | tail -x", "a;;b", ";a", "echo hi", "echo a>b", "a & b", ""])
def test_refused(line):
    with pytest.raises(ShellSyntaxError):
        parse(line)
