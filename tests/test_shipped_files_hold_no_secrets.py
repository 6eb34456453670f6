"""Nothing the project ships holds a key, token, password or private key.

The deployment generator's own output is scanned in tests/deploy; this scans what a user
installs or copies from the repository: the package, user_data/, the contracts, docs,
scripts and build files.  (tests/ are left out: they plant fake secrets on purpose.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from freqtrade_exec_ext.deploy.secrets import scan_text

pytestmark = pytest.mark.slow

SHIPPED = ("freqtrade_exec_ext", "user_data", ".crypto", "docs", "scripts", "benchmarks", ".ci")
SHIPPED_FILES = ("README.md", "setup.cfg", "pyproject.toml", "Makefile")
# In settings files every "secret-named" key must be empty; in code and prose those names
# appear as identifiers and examples, so only secret-shaped values count there.
SETTINGS_SUFFIXES = (".json", ".yaml", ".yml", ".env", ".cfg", ".toml", ".example")
# Documented examples that look like credentials on purpose: (file, kind, why).
EXAMPLES: dict[tuple[str, str], str] = {}


def shipped_files(root: Path) -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", *SHIPPED, *SHIPPED_FILES],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        files = [root / name for name in listed]
    except (OSError, subprocess.CalledProcessError):
        files = [p for d in SHIPPED for p in (root / d).rglob("*")]
        files += [root / name for name in SHIPPED_FILES]
    return [f for f in files if f.is_file()]


def test_shipped_files_hold_no_secrets(repo_root: Path) -> None:
    files = shipped_files(repo_root)
    assert len(files) > 50, "the scan found almost nothing to scan"
    findings = []
    for path in files:
        raw = path.read_bytes()
        if b"\x00" in raw[:4096]:  # feather data, pyc: binary
            continue
        found = scan_text(raw.decode("utf-8", "replace"), str(path.relative_to(repo_root)))
        if not path.name.endswith(SETTINGS_SUFFIXES):
            found = [f for f in found if not f.kind.startswith("value for")]
        findings += [f for f in found if (f.path, f.kind) not in EXAMPLES]
    assert findings == [], "\n".join(map(str, findings))


def test_the_scan_would_catch_a_planted_key(repo_root: Path, tmp_path: Path) -> None:
    key = "Ab3" + "x9Q" * 20 + "z"  # 64 characters, mixed case and digits, like an API key
    planted = tmp_path / "config.json"
    planted.write_text(f'{{"exchange": {{"name": "binance", "key": "{key}"}}}}\n')
    kinds = {f.kind for f in scan_text(planted.read_text(), "config.json")}
    assert kinds == {"exchange credential (exchange.key)"}
    import random
    import string

    rng = random.Random(7)
    token = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(30))
    readme = f"Log in with\n\n    {token}\n"
    assert [f.kind for f in scan_text(readme, "README.md")] == [
        "high-entropy token (30 characters)"
    ]


def test_every_documented_example_is_still_there(repo_root: Path) -> None:
    """An allowance for an example that no longer exists would hide a real finding."""
    for path, kind in EXAMPLES:
        text = (repo_root / path).read_text(encoding="utf-8")
        assert any(f.kind == kind for f in scan_text(text, path)), (path, kind)
