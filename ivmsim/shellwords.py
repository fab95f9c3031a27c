"""Parse what an SSH client sends to the padmin shell, without ever running a shell.

Quoting follows POSIX sh (single quotes, double quotes with backslash escapes, backslash outside quotes).
The grammar is the part of ksh that administrators' scripts use against real IVMs (ivm-cli.md §3.1):
command lists (``;`` or newlines, ``&&``, ``||``), pipelines into text filters (``| grep``, ``| tail -1``),
``for VAR in WORDS; do …; done`` loops, ``$VAR`` / ``${VAR}`` / ``$?`` and command substitution (``$(…)``
or backquotes). Redirections, background jobs and subshells are refused, as the restricted shell refuses
them. ``ivmsim.executor`` runs the tree: IVM commands through the command table, filters in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLANK = " \t"


class ShellSyntaxError(ValueError):
    """The command line uses shell features the simulator refuses to interpret."""


@dataclass
class Word:
    """One shell word: parts are ("lit", text, quoted), ("var", name, quoted) or ("cmd", Script, quoted)."""

    parts: list = field(default_factory=list)

    @property
    def literal(self) -> str | None:
        """The word's text when it has no expansion, else None."""
        if all(p[0] == "lit" for p in self.parts):
            return "".join(p[1] for p in self.parts)
        return None

    @property
    def unquoted_literal(self) -> str | None:
        """The text of a bare word (a keyword such as ``for`` or ``do`` only counts when unquoted)."""
        if len(self.parts) == 1 and self.parts[0][0] == "lit" and not self.parts[0][2]:
            return self.parts[0][1]
        return None


@dataclass
class Simple:
    words: list[Word]
    text: str  # the command as sent, for the command log and fault matching


@dataclass
class For:
    var: str
    items: list[Word]
    body: Script


@dataclass
class Pipeline:
    commands: list  # Simple | For


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]] = field(default_factory=list)  # ("&&" | "||", pipeline)


@dataclass
class Script:
    items: list[AndOr]


# --- tokens ----------------------------------------------------------------------------------------------------
@dataclass
class _Tok:
    kind: str  # "word" | "op" | "nl"
    value: object
    start: int
    end: int


class _Lexer:
    def __init__(self, text: str):
        self.s, self.i, self.n = text, 0, len(text)

    def tokens(self, until: str | None = None) -> list[_Tok]:
        """Tokens up to the end, or up to the ``)`` that closes a ``$(`` (``until=")"``)."""
        out: list[_Tok] = []
        while True:
            while self.i < self.n and self.s[self.i] in _BLANK:
                self.i += 1
            if self.i >= self.n:
                if until:
                    raise ShellSyntaxError("unterminated command substitution")
                return out
            c, start = self.s[self.i], self.i
            if c == "#" :
                while self.i < self.n and self.s[self.i] != "\n":
                    self.i += 1
                continue
            if until and c == until:
                self.i += 1
                return out
            if c == "\n":
                self.i += 1
                out.append(_Tok("nl", "\n", start, self.i))
            elif c in ";|&":
                two = self.s[self.i:self.i + 2]
                op = two if two in ("&&", "||", ";;") else c
                if op in (";;", "&"):
                    raise ShellSyntaxError("background jobs and case clauses are not supported")
                self.i += len(op)
                out.append(_Tok("op", op, start, self.i))
            elif c in "<>":
                raise ShellSyntaxError("restricted: redirections are not allowed")
            elif c in "()":
                raise ShellSyntaxError("subshells are not supported")
            else:
                word = self._word(until)
                out.append(_Tok("word", word, start, self.i))

    def _word(self, until: str | None) -> Word:
        w = Word()
        buf: list[str] = []

        def flush(quoted: bool) -> None:
            if buf:
                w.parts.append(("lit", "".join(buf), quoted))
                buf.clear()

        while self.i < self.n:
            c = self.s[self.i]
            if c in _BLANK or c in "\n;|&<>()" or (until and c == until):
                break
            if c == "'":
                end = self.s.find("'", self.i + 1)
                if end < 0:
                    raise ShellSyntaxError("unterminated single quote")
                flush(False)
                w.parts.append(("lit", self.s[self.i + 1:end], True))
                self.i = end + 1
            elif c == '"':
                flush(False)
                self.i += 1
                while True:
                    if self.i >= self.n:
                        raise ShellSyntaxError("unterminated double quote")
                    c = self.s[self.i]
                    if c == '"':
                        self.i += 1
                        break
                    if c == "\\" and self.i + 1 < self.n and self.s[self.i + 1] in '"\\$`\n':
                        buf.append(self.s[self.i + 1])
                        self.i += 2
                    elif c in "$`":
                        flush(True)
                        w.parts.append(self._expansion(quoted=True))
                    else:
                        buf.append(c)
                        self.i += 1
                flush(True)
                if not w.parts:
                    w.parts.append(("lit", "", True))
            elif c == "\\":
                if self.i + 1 < self.n:
                    flush(False)
                    w.parts.append(("lit", self.s[self.i + 1], True))
                self.i += 2
            elif c in "$`":
                flush(False)
                w.parts.append(self._expansion(quoted=False))
            else:
                buf.append(c)
                self.i += 1
        flush(False)
        return w

    def _expansion(self, quoted: bool):
        s, i = self.s, self.i
        if s[i] == "`":
            end = s.find("`", i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated backquote")
            self.i = end + 1
            return ("cmd", parse(s[i + 1:end]), quoted)
        if s[i + 1:i + 2] == "(":
            inner = _Lexer(s)
            inner.i = i + 2
            toks = inner.tokens(until=")")
            self.i = inner.i
            return ("cmd", _Parser(toks, s).script(), quoted)  # token positions are in s
        if s[i + 1:i + 2] == "?":
            self.i = i + 2
            return ("var", "?", quoted)
        if s[i + 1:i + 2] == "{":
            end = s.find("}", i + 2)
            name = s[i + 2:end] if end > 0 else ""
            if not _NAME.fullmatch(name):
                raise ShellSyntaxError("bad substitution")
            self.i = end + 1
            return ("var", name, quoted)
        m = _NAME.match(s, i + 1)
        if not m:
            raise ShellSyntaxError("a lone '$' is not supported")
        self.i = m.end()
        return ("var", m.group(0), quoted)


# --- grammar ---------------------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, toks: list[_Tok], source: str):
        self.toks, self.k, self.source = toks, 0, source

    def peek(self) -> _Tok | None:
        return self.toks[self.k] if self.k < len(self.toks) else None

    def _kw(self, tok: _Tok | None, *words: str) -> bool:
        return tok is not None and tok.kind == "word" and tok.value.unquoted_literal in words

    def script(self, stop: tuple[str, ...] = ()) -> Script:
        items: list[AndOr] = []
        while True:
            while (t := self.peek()) is not None and (t.kind == "nl" or (t.kind == "op" and t.value == ";")):
                if t.value == ";" and not items:
                    raise ShellSyntaxError("empty command before ';'")
                self.k += 1
            t = self.peek()
            if t is None or self._kw(t, *stop):
                break
            items.append(self.and_or())
            t = self.peek()
            if t is not None and not (t.kind == "nl" or (t.kind == "op" and t.value == ";")) \
                    and not self._kw(t, *stop):
                raise ShellSyntaxError(f"unexpected {t.value!r}")
        if not items:
            raise ShellSyntaxError("empty command")
        return Script(items)

    def and_or(self) -> AndOr:
        node = AndOr(self.pipeline())
        while (t := self.peek()) is not None and t.kind == "op" and t.value in ("&&", "||"):
            self.k += 1
            while (n := self.peek()) is not None and n.kind == "nl":
                self.k += 1
            node.rest.append((t.value, self.pipeline()))
        return node

    def pipeline(self) -> Pipeline:
        cmds = [self.command()]
        while (t := self.peek()) is not None and t.kind == "op" and t.value == "|":
            self.k += 1
            cmds.append(self.command())
        return Pipeline(cmds)

    def command(self):
        t = self.peek()
        if self._kw(t, "for"):
            return self.for_clause()
        words, start, end = [], None, None
        while (t := self.peek()) is not None and t.kind == "word":
            if not words and self._kw(t, "do", "done", "in"):
                raise ShellSyntaxError(f"unexpected {t.value.unquoted_literal!r}")
            start = t.start if start is None else start
            end = t.end
            words.append(t.value)
            self.k += 1
        if not words:
            raise ShellSyntaxError("empty command")
        return Simple(words, self.source[start:end])

    def for_clause(self) -> For:
        self.k += 1
        t = self.peek()
        name = t.value.unquoted_literal if t is not None and t.kind == "word" else None
        if not name or not _NAME.fullmatch(name):
            raise ShellSyntaxError("for: a variable name is expected")
        self.k += 1
        items: list[Word] = []
        if self._kw(self.peek(), "in"):
            self.k += 1
            while (t := self.peek()) is not None and t.kind == "word" and not self._kw(t, "do"):
                items.append(t.value)
                self.k += 1
        while (t := self.peek()) is not None and (t.kind == "nl" or (t.kind == "op" and t.value == ";")):
            self.k += 1
        if not self._kw(self.peek(), "do"):
            raise ShellSyntaxError("for: 'do' expected")
        self.k += 1
        body = self.script(stop=("done",))
        if not self._kw(self.peek(), "done"):
            raise ShellSyntaxError("for: 'done' expected")
        self.k += 1
        return For(name, items, body)


def parse(line: str) -> Script:
    """Parse a command line into the script it runs (see the module docstring for what is understood)."""
    toks = _Lexer(line).tokens()
    parser = _Parser(toks, line)
    script = parser.script()
    if parser.peek() is not None:
        raise ShellSyntaxError(f"unexpected {parser.peek().value!r}")
    return script
