"""``freqtrade-exec deploy``: write a stage's deployment folder, atomically and idempotently.

1. load the contract and check the options (exchange, pairs, ports);
2. check the stage order (:mod:`~freqtrade_exec_ext.deploy.gates`): refused stages write
   nothing;
3. render every file in memory (deterministic: no timestamps, sorted where order is free);
4. under a lock on the strategy folder: remove what a killed earlier run left
   (``.deployment.tmp-*``; a ``.deployment.old-*`` whose replacement never arrived is put
   back), refuse a deployment folder holding a symbolic link or another stage's ``.env``
   (secrets are never carried between stages);
5. write the files to a temporary folder beside ``deployment/`` (linking the same stage's
   ``.env``), run the full :func:`~freqtrade_exec_ext.deploy.validate.validate_folder` on
   it, and only then swap it in by renaming.  A failure at any step, or SIGTERM, SIGINT or
   SIGHUP, removes the temporary folder and leaves the previous deployment untouched.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freqtrade_exec_ext import __version__
from freqtrade_exec_ext.contract import RiskContract, find_contract, load_contract
from freqtrade_exec_ext.deploy import monitoring
from freqtrade_exec_ext.deploy import stages as st
from freqtrade_exec_ext.deploy.checklist import ChecklistInput, render_checklist
from freqtrade_exec_ext.deploy.compose import (
    DOCKERIGNORE,
    ComposeInput,
    compose_yaml,
    dockerfile,
    env_example,
    exchange_key_vars,
    postgres_init_sql,
)
from freqtrade_exec_ext.deploy.config_builder import (
    BuildError,
    DeployOptions,
    build_config,
    check_options,
    risk_mismatches,
)
from freqtrade_exec_ext.deploy.gates import GateResult, default_evidence_urls, evaluate
from freqtrade_exec_ext.deploy.testnets import find_testnet

#: .env.example's note on the key pair of a testnet on the local exchange
LOCAL_KEY_NOTE = (
    "a throwaway pair for the local exchange (e.g. openssl rand -hex 32 for\n"
    "# each): the bot signs with it, the venue accepts only it. Never a real exchange key."
)


TMP_PREFIX = ".deployment.tmp-"
OLD_PREFIX = ".deployment.old-"


class Refused(BuildError):
    """The stage's prerequisites are not met (nothing was written)."""


@dataclass(frozen=True)
class Generated:
    folder: Path
    files: tuple[str, ...]
    gates: GateResult
    config: dict[str, Any]


def load_strategy_contract(root: Path, strategy_id: str) -> RiskContract:
    st.check_strategy_id(strategy_id)
    return load_contract(find_contract(strategy_id, cwd=root))


def _freqtrade_version() -> str:
    from freqtrade_exec_ext.compat import supported_freqtrade_version

    version = supported_freqtrade_version()
    if version.startswith(("unknown", "not")):
        raise BuildError(f"cannot pin the Freqtrade image: Freqtrade release {version}")
    return version


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_files(
    contract: RiskContract,
    opts: DeployOptions,
    gates: GateResult,
    evidence_urls: dict[str, str],
) -> dict[str, str]:
    """Every file of the deployment folder, by name (pure apart from the version lookup)."""
    sid = contract.strategy_id
    live_capital = gates.approval.capital if gates.approval else None
    config = build_config(contract, opts, live_capital=live_capital)
    needs_keys = opts.stage in ("testnet", "live")
    testnet = find_testnet(contract.market.exchange, contract.market.trading_mode)
    local_serve_args: tuple[str, ...] = ()
    if opts.stage == "testnet" and opts.is_local:
        key_note = LOCAL_KEY_NOTE
        # the venue's account holds what the bot may trade (available_capital)
        cash = f"{contract.capital.initial_capital:f}".rstrip("0").rstrip(".")
        local_serve_args = ("--balance", f"{contract.market.stake_currency}={cash}")
    elif opts.stage == "testnet" and testnet is not None:
        key_note = f"{testnet.name}: {testnet.key_note}"
    else:
        key_note = f"your {contract.market.exchange} account (trade-only key, no withdrawals)"
    ci = ComposeInput(
        strategy_id=sid,
        stage=opts.stage,
        db=opts.db,
        api_port=opts.api_port,
        freqtrade_version=_freqtrade_version(),
        local_url=opts.local_url if opts.is_local else None,
        exchange_key_vars=exchange_key_vars(contract.market.exchange, needs_keys),
        local_serve_args=local_serve_args,
    )
    checklist = render_checklist(
        ChecklistInput(
            contract=contract,
            stage=opts.stage,
            config=config,
            risk_ok=not risk_mismatches(config, contract, opts.stage, live_capital),
            evidence=gates.evidence,
            approval=gates.approval,
            deployment_dir=st.deployment_relpath(sid).as_posix(),
            local_exchange=opts.is_local,
        )
    )
    files = {
        st.CONFIG_FILE: _json(config),
        st.COMPOSE_FILE: compose_yaml(ci),
        st.DOCKERFILE: dockerfile(ci),
        st.DOCKERIGNORE: DOCKERIGNORE,
        st.ENV_EXAMPLE: env_example(ci, key_note),
        st.CHECKLIST_FILE: checklist,
    }
    if opts.db == "postgres":
        files[st.POSTGRES_INIT] = postgres_init_sql(sid)
    bot_host = "localex" if ci.local_url else "freqtrade"  # the bot shares localex's network
    files.update(monitoring.files(contract, bot_host=bot_host, api_port=opts.api_port))
    manifest = {
        "generator": f"freqtrade-exec-ext {__version__}",
        "strategy_id": sid,
        "strategy_class": st.strategy_class(sid),
        "stage": opts.stage,
        "exchange": opts.exchange,
        "local_exchange_url": opts.local_url if opts.is_local else None,
        "testnet": testnet.name
        if (opts.stage == "testnet" and testnet and not opts.is_local)
        else None,
        "db": opts.db,
        "pairs": list(opts.pairs),
        "api_port": opts.api_port,
        "contract": {"path": st.contract_posix(sid), "sha256": contract.fingerprint()},
        "evidence_urls": {s: evidence_urls[s] for s in st.stages_before(opts.stage)},
        "evidence": {s: ev.to_dict() for s, ev in sorted(gates.evidence.items())},
        "approval": (
            {
                "approved_by": gates.approval.approved_by,
                "approved_at": gates.approval.approved_at,
                "capital": gates.approval.capital,
                "contract_sha256": gates.approval.contract_sha256,
                "paper_evidence_digest": gates.approval.paper_evidence_digest,
                "report_sha256": gates.approval.report_sha256,
                "accepted_breaches": gates.approval.accepted_breaches,
                "digest": gates.approval.digest,
            }
            if gates.approval and opts.stage == "live"
            else None
        ),
        "files": sorted([*files, st.MANIFEST_FILE]),
    }
    files[st.MANIFEST_FILE] = _json(manifest)
    return files


@contextlib.contextmanager
def _lock(strategy_dir: Path) -> Iterator[None]:
    """Exclusive lock on the strategy folder itself (no lock file is left behind)."""
    strategy_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(strategy_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(
                f"{strategy_dir}: another freqtrade-exec deploy is running for this strategy"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


class Interrupted(BaseException):
    """A signal stopped the deploy; raised so that every cleanup (``finally``) runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM, SIGINT and SIGHUP raise :class:`Interrupted` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    old = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
    try:
        yield
    finally:
        with _signals_blocked():
            for sig, previous in old.items():
                signal.signal(sig, previous)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold the signals back while cleaning up; they are delivered afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def _remove_stale(target: Path) -> None:
    """Folders an earlier, killed run left beside ``target``: temporary ones are removed;
    a previous deployment moved aside and never replaced is put back."""
    for old in sorted(target.parent.glob(OLD_PREFIX + "*")):
        if old.is_dir() and not old.is_symlink() and not target.exists():
            old.rename(target)
    for path in sorted(target.parent.glob(".deployment.*")):
        if path.name.startswith((TMP_PREFIX, OLD_PREFIX)) and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


def symlinks_in(folder: Path) -> list[Path]:
    if folder.is_symlink():
        return [folder]
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.rglob("*")) if p.is_symlink()]


def check_folder(target: Path, stage: st.Stage, root: Path) -> None:
    """Refuse a deployment folder holding symbolic links or another stage's ``.env``."""
    links = symlinks_in(target)
    if links:
        rel = links[0].relative_to(root) if links[0].is_relative_to(root) else links[0]
        raise Refused(
            f"{rel}: a symbolic link; the deployment folder holds plain files only (a link "
            "could make the generator write, or the bot read, outside it): replace it by a "
            "file and run deploy again"
        )
    env = target / st.ENV_FILE
    if not env.exists():
        return
    previous = _previous_stage(target)
    if previous != stage:
        rel = env.relative_to(root)
        raise Refused(
            f"{rel}: holds the {previous or 'unknown'} stage's secrets and is never carried to "
            f"another stage: move it out of .crypto/ (or delete it), then run deploy again "
            f"and fill a new .env from the {stage} stage's .env.example"
        )


def _previous_stage(target: Path) -> str | None:
    try:
        manifest = json.loads((target / st.MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    stage = manifest.get("stage") if isinstance(manifest, dict) else None
    return stage if isinstance(stage, str) else None


def write_atomically(target: Path, files: dict[str, str], root: Path) -> None:
    """Write ``files`` into a fresh folder, validate it, then swap it in for ``target``.

    The same stage's ``.env`` is linked into the new folder (a hard link: no second copy
    of the secrets); nothing is left behind by a failure or a signal.
    """
    from freqtrade_exec_ext.deploy.validate import validate_folder

    tmp: Path | None = None
    old: Path | None = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=target.parent))
        tmp.chmod(0o755)
        for name, text in files.items():
            path = tmp / name
            for folder in reversed(path.relative_to(tmp).parents[:-1]):
                (tmp / folder).mkdir(exist_ok=True)
                (tmp / folder).chmod(0o755)
            path.write_text(text, encoding="utf-8")
            path.chmod(0o644)
        env = target / st.ENV_FILE
        if env.is_file() and not env.is_symlink():
            try:
                os.link(env, tmp / st.ENV_FILE)
            except OSError:
                shutil.copy2(env, tmp / st.ENV_FILE)
        result = validate_folder(tmp, root=root)
        if result.findings:
            raise BuildError(
                ["generated files failed validation (nothing was changed):", *result.findings]
            )
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=OLD_PREFIX, dir=target.parent))
            old.rmdir()
            target.rename(old)
        try:
            tmp.rename(target)
        except OSError:
            if old is not None:
                old.rename(target)  # put the previous deployment back
                old = None
            raise
    finally:
        with _signals_blocked():
            if tmp is not None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and old.exists():
                if target.exists():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.rename(target)


def generate(
    root: Path,
    strategy_id: str,
    opts: DeployOptions,
    *,
    evidence_urls: dict[str, str] | None = None,
) -> Generated:
    """Check, render, validate and write the deployment.  Raises BuildError / Refused."""
    from freqtrade_exec_ext.deploy.ft_check import strategy_attributes

    root = root.resolve()
    contract = load_strategy_contract(root, strategy_id)
    check_options(contract, opts)
    try:
        strategy_attributes(root / "user_data" / "strategies", st.strategy_class(strategy_id))
    except FileNotFoundError as exc:
        raise BuildError(str(exc)) from None
    urls = default_evidence_urls(strategy_id, opts.db)
    urls.update(evidence_urls or {})
    gates = evaluate(opts.stage, contract, root, urls)
    if gates.problems:
        raise Refused(
            [
                (
                    f"refused: {strategy_id} --stage {opts.stage}: the stage order is "
                    "testnet -> paper -> live and this stage's prerequisites are not met:"
                ),
                *(f"  - {p}" for p in gates.problems),
                "nothing was written; see docs/stages.md",
            ]
        )
    files = render_files(contract, opts, gates, urls)
    strategy_dir = root / st.strategy_relpath(strategy_id)
    target = root / st.deployment_relpath(strategy_id)
    with signals_raise(), _lock(strategy_dir):
        _remove_stale(target)
        check_folder(target, opts.stage, root)
        write_atomically(target, files, root)
    config = json.loads(files[st.CONFIG_FILE])
    return Generated(target, tuple(sorted(files)), gates, config)


def tree(folder: Path) -> list[str]:
    """``ls -la``-like listing of the deployment (names and sizes)."""
    out = []
    for path in sorted(folder.iterdir()):
        mode = oct(path.stat().st_mode & 0o777)[2:]
        out.append(f"  {mode}  {path.stat().st_size:>6}  {path.name}")
    return out
