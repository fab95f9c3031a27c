"""Command-line parsing: quoting like sh, the ksh idioms administrators' scripts use, nothing run by a shell."""

from __future__ import annotations

import pytest

from ivmsim.shellwords import For, ShellSyntaxError, Simple, parse


def _simple(line):
    [item] = parse(line).items
    [cmd] = item.first.commands
    return cmd


def test_quotes_and_escapes():
    cmd = _simple('migrlpar -o m -t "8205-E6C*06A2002" -i "\\"virtual_scsi_mappings=3/vios2/1,4/vios2/1\\"" -p x')
    assert [w.literal for w in cmd.words] == ["migrlpar", "-o", "m", "-t", "8205-E6C*06A2002", "-i",
                                              '"virtual_scsi_mappings=3/vios2/1,4/vios2/1"', "-p", "x"]
    assert [w.literal for w in _simple("lsdev -dev 'hdisk 1'").words] == ["lsdev", "-dev", "hdisk 1"]


def test_pipes_lists_and_the_text_of_each_command_as_sent():
    script = parse("lssyscfg -r sys ; echo :end:ab12: $? ; ioscli lsmap -all -fmt ':' | grep vhost ;echo x $?")
    texts = [item.first.commands[0].text for item in script.items]
    assert texts == ["lssyscfg -r sys", "echo :end:ab12: $?", "ioscli lsmap -all -fmt ':'", "echo x $?"]
    assert [c.words[0].literal for c in script.items[2].first.commands] == ["ioscli", "grep"]


def test_for_loops_and_command_substitution_parse():
    [item] = parse('for d in $(ioscli lsdev -type disk | grep hdisk | cut -d " " -f 1); do '
                   'ioscli lsdev -dev $d -attr reserve_policy | tail -1; done').items
    loop = item.first.commands[0]
    assert isinstance(loop, For) and loop.var == "d"
    kind, inner, quoted = loop.items[0].parts[0]
    assert kind == "cmd" and not quoted and len(inner.items[0].first.commands) == 3
    assert isinstance(loop.body.items[0].first.commands[0], Simple)


@pytest.mark.parametrize("line", ["a > f", "a < f", "a & b", "(a)", "'open", '"open', "a;;b", ";a", "",
                                  "for in x; do a; done", "for x in a b; a; done", "a $(b", "echo ${1x}"])
def test_refused(line):
    with pytest.raises(ShellSyntaxError):
        parse(line)
