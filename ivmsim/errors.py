"""Command results and the error every command raises to refuse its input the IVM way."""

from __future__ import annotations

from dataclasses import dataclass

from ivmsim import reference as ref


@dataclass
class Result:
    """What a command prints and its exit status."""

    stdout: str = ""
    stderr: str = ""
    status: int = 0


class CommandError(Exception):
    """An IVM error: ``[VIOSExxxxxxxx-xxxx] text`` on stderr and a non-zero exit status."""

    def __init__(self, code: str, text: str, status: int = ref.ERROR_EXIT):
        super().__init__(f"[{code}] {text}")
        self.code, self.text, self.status = code, text, status

    def result(self) -> Result:
        return Result(stderr=f"[{self.code}] {self.text}\n", status=self.status)


class MultiError(CommandError):
    """Several validation failures, one message line each (migrlpar -o v prints them all)."""

    def __init__(self, errors: list[CommandError]):
        super().__init__(errors[0].code, errors[0].text, errors[0].status)
        self.errors = errors

    def result(self) -> Result:
        return Result(stderr="".join(f"[{e.code}] {e.text}\n" for e in self.errors), status=self.status)


def migration_error(key: str, **fields) -> CommandError:
    """Build the error for one migration check of ivm-cli.md §2 (codes live in reference.py)."""
    code, template = ref.MIGRATION_CODES[key]
    return CommandError(code, template.format(**fields))
