"""``make bench``: run every ``benchmarks/bench_*.py`` (each exposes ``main() -> int``).

Speed claims are ratios measured in one run against a baseline on the same machine,
never absolute times asserted in unit tests.  ``python -m benchmarks NAME`` runs one.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    failed = 0
    for name in names:
        print(f"== benchmarks.{name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        rc = int(module.main() or 0)
        failed += rc != 0
    print(f"{len(names)} benchmark(s) run, {failed} over target")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
