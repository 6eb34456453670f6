"""An interrupted ``freqtrade-exec deploy`` leaves nothing behind.

A real ``freqtrade-exec deploy`` subprocess is stopped at the moment it holds its temporary
folder (with the stage's ``.env`` linked into it): the test's ``sitecustomize`` makes the
full validation of that folder announce itself in a file and wait, so the signal arrives at
exactly that point on any machine, however busy (no sleep-and-hope).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deploytools import DEPLOYMENT, deploy, secrets_file, snapshot

pytestmark = pytest.mark.slow

FREQTRADE_EXEC = Path(sys.executable).with_name("freqtrade-exec")
SITECUSTOMIZE = '''
import os, pathlib, time
marker = os.environ.get("EXEC_EXT_TEST_HOLD_MARKER")
if marker:
    import freqtrade_exec_ext.deploy.validate as _validate

    def _held(folder, **kw):
        pathlib.Path(marker).write_text(str(folder))
        while True:  # until the test signals this process
            time.sleep(0.2)

    _validate.validate_folder = _held
'''
SECRET_LINE = "FREQTRADE__EXCHANGE__SECRET=only-in-the-stages-env\n"


def held_deploy(project: Path, tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    """Start ``freqtrade-exec deploy`` and return once it holds its temporary folder."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    marker = tmp_path / "held"
    marker.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    path = [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
    env |= {"PYTHONPATH": os.pathsep.join(path), "EXEC_EXT_TEST_HOLD_MARKER": str(marker)}
    proc = subprocess.Popen(
        [str(FREQTRADE_EXEC), "deploy", "STR-001", "--stage", "testnet", "--root", str(project),
         "--pairs", "BTC/USDT,ETH/USDT", "--api-port", "8091"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180  # a busy 2-core machine imports Freqtrade slowly
    while not marker.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"deploy exited before holding its folder:\n{out}\n{err}")
        assert time.monotonic() < deadline, "deploy never reached its temporary folder"
        time.sleep(0.05)
    return proc, Path(marker.read_text())


def leftovers(project: Path) -> list[str]:
    parent = (project / DEPLOYMENT).parent
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".deployment"))


@pytest.fixture
def deployed(project: Path) -> Path:
    """A testnet deployment whose .env holds the stage's secrets."""
    assert deploy(project, "testnet") == 0
    secrets_file(project / DEPLOYMENT / ".env", SECRET_LINE)
    return project


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_temporary_folder_exists_removes_it(deployed, tmp_path, sig):
    project = deployed
    before = snapshot(project / DEPLOYMENT)
    proc, tmp = held_deploy(project, tmp_path)
    # the moment of the issue: a temporary folder beside deployment/ holding the .env
    assert tmp.parent == (project / DEPLOYMENT).parent and tmp.name.startswith(
        ".deployment.tmp-"
    )
    assert (tmp / ".env").read_text() == SECRET_LINE
    assert (tmp / "config.json").is_file()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, (out, err)
    assert err.strip() == (
        f"freqtrade-exec deploy: interrupted by {sig.name}; temporary files removed"
    )
    assert not tmp.exists() and leftovers(project) == []
    assert snapshot(project / DEPLOYMENT) == before  # the previous deployment is untouched
    env = project / DEPLOYMENT / ".env"
    assert env.read_text() == SECRET_LINE and env.stat().st_nlink == 1  # one copy, no other
    hits = [p for p in project.rglob("*") if p.is_file() and SECRET_LINE.encode() in
            p.read_bytes()]  # fmt: skip
    assert hits == [env]


def test_what_a_killed_deploy_leaves_is_removed_by_the_next_run(deployed, tmp_path):
    project = deployed
    proc, tmp = held_deploy(project, tmp_path)
    proc.kill()  # SIGKILL cannot be handled: the temporary folder stays
    proc.communicate(timeout=180)
    assert leftovers(project) == [tmp.name] and (tmp / ".env").exists()
    assert deploy(project, "testnet") == 0
    assert leftovers(project) == []
    assert (project / DEPLOYMENT / ".env").read_text() == SECRET_LINE
