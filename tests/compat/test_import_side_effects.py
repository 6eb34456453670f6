"""Importing compat (or anything of this package) changes nothing in Freqtrade.

Run in a fresh interpreter: in the test process an earlier test may already have called
``compat.install()``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SNAPSHOT = r"""
import json, sys
def snap():
    from freqtrade import constants
    from freqtrade.configuration.configuration import Configuration
    from freqtrade.resolvers.pairlist_resolver import PairListResolver
    from freqtrade.resolvers.protection_resolver import ProtectionResolver
    return {
        "pairlists": list(constants.AVAILABLE_PAIRLISTS),
        "pl_load": repr(PairListResolver.__dict__.get("load_object")),
        "pl_search": repr(PairListResolver.__dict__.get("search_all_objects")),
        "pr_load": repr(ProtectionResolver.__dict__.get("load_object")),
        "pr_search": repr(ProtectionResolver.__dict__.get("search_all_objects")),
        "load_config": repr(Configuration.load_config),
    }
before = snap()
import importlib
for mod in sys.argv[1:]:
    importlib.import_module(mod)
after = snap()
print(json.dumps({"before": before, "after": after}))
"""

MODULES = [
    "freqtrade_exec_ext.compat",
    "freqtrade_exec_ext.compat.registry",
    "freqtrade_exec_ext.compat.schema",
    "freqtrade_exec_ext",
    "freqtrade_exec_ext.plugins.protection_config",
    "freqtrade_exec_ext.cli.main",
]


def _run(*modules: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SNAPSHOT, *modules],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_compat_and_the_package_changes_nothing_in_freqtrade() -> None:
    res = _run(*MODULES)
    assert res["after"] == res["before"]
    assert "ExecutionCostFilter" not in res["after"]["pairlists"]


def test_install_is_the_one_explicit_step() -> None:
    code = SNAPSHOT.replace(
        "after = snap()", "from freqtrade_exec_ext import compat\ncompat.install()\nafter = snap()"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert "ExecutionCostFilter" in res["after"]["pairlists"]
    assert res["after"]["pl_load"] != res["before"]["pl_load"]
    assert res["after"]["load_config"] == res["before"]["load_config"]  # only for `ft`
