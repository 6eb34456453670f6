"""The package's error root, with the split ccxt and Freqtrade use: refused or retryable.

* :class:`InputRefused`: bad input, or a rule says no (a contract field out of range, a
  forged evidence file, an order the exchange refused).  The same request gives the same
  answer; the command line prints one line per problem and exits 2.
* :class:`TemporaryFailure`: a condition that may pass (the network, an exchange answer
  that could not be read, a lock): the same request may succeed later.

Every exception this package raises on purpose derives from :class:`ExecExtError`
(``tests/test_errors.py`` walks the package to check it).
"""

from __future__ import annotations


class ExecExtError(Exception):
    """Root of every error freqtrade-exec-ext raises on purpose."""


class InputRefused(ExecExtError):
    """Refused: retrying the same request gives the same answer."""


class TemporaryFailure(ExecExtError):
    """Retryable: the same request may succeed later."""
