"""Errors the CLI turns into one line per problem on stderr and exit code 2."""

from __future__ import annotations

from collections.abc import Iterable

from freqtrade_exec_ext.errors import InputRefused


class CliError(InputRefused):
    """Bad input: each line names the file or option, the field and what is allowed."""

    exit_code = 2

    def __init__(self, lines: str | Iterable[str]) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))
