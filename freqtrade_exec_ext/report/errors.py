"""The report's one error type: bad input, shown as one line and exit code 2."""

from __future__ import annotations

from freqtrade_exec_ext.errors import InputRefused


class ReportInputError(InputRefused):
    """A file, URL or option the report cannot use; the message names it."""
