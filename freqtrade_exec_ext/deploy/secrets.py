"""Secrets scan of a deployment folder (pure; the rules are in ``secret_rules.py``).

Every file below the folder is scanned, dotfiles and dot-folders included, in two passes:

* **structure**: a JSON or YAML file is read as a tree (with line numbers), so that
  Freqtrade's and ccxt's credential slots are known by their path (``webhook.url``,
  ``exchange.secret``, ``ccxt_config.headers.X-MBX-APIKEY`` ...), whichever line the value
  is on;
* **lines**: every line of every text file: ``NAME=value`` / ``name: value`` /
  ``"name": "value"`` (a value on the next line too), known shapes (URL credentials,
  ``Bearer``, webhooks, prefixed tokens, private keys) and unlabelled high-entropy tokens
  (hashes in context are not findings).

A finding is ``file:line: kind``, one per line, and never shows the value.  ``.env`` is the
one file meant to hold secrets: its content is not scanned, but it must not be readable by
group or others.  A symbolic link is a finding (not followed).
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.deploy import secret_rules as R

MAX_BYTES = 2 * 1024 * 1024
ENV_FILE_NAME = ".env"  # the one file meant to hold secrets
STRUCTURED_SUFFIXES = (".json", ".yaml", ".yml")
PROSE_SUFFIXES = (".md", ".txt", ".rst", ".html")
_COMMENT = ("#", "//", ";", "--")

# "name": "value" | name: value | NAME=value  (value: quoted, or up to space/comma/#)
_NAMED = re.compile(
    r"""(?P<q>["']?)(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)(?P=q)\s*(?P<op>[:=])[ \t]*"""
    r"""(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>[^']*)'|(?P<bare>\$\{[^}]*\}|[^\s,#{}\[\]"'`]*))"""
)
_FIRST_VALUE = re.compile(r"""^\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s,#}\]]+))""")
_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-]{20,}")
_SAFE_NAME = re.compile(r"^[\w.-]{1,60}$")
# kinds by priority: a line shows its most specific finding
SLOT, NAMED, SHAPE, ENTROPY = range(4)


@dataclass(frozen=True, order=True)
class SecretFinding:
    path: str
    line: int
    kind: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.kind}"


def sensitive_name(name: str) -> bool:
    """``FREQTRADE__EXCHANGE__SECRET`` / ``exchange.secret`` / ``"password"`` -> True."""
    return R.name_strength(name) is not None or R.slot_kind(R.name_path(name)) is not None


def _label(name: str) -> str:
    if not _SAFE_NAME.match(name) or R.random_token(name):
        return "value for a secret-named key"
    return f"value for '{name}'"


class _Lines:
    """Findings by line, keeping the most specific kind of each line."""

    def __init__(self) -> None:
        self.kinds: dict[int, tuple[int, str]] = {}

    def add(self, line: int, priority: int, kind: str) -> None:
        if line not in self.kinds or priority < self.kinds[line][0]:
            self.kinds[line] = (priority, kind)

    def named(self, line: int, name: str, value: str, *, prose: bool = False) -> None:
        """``name`` has ``value``; in prose (comments, text files) only a token-like value
        counts ("credentials: your exchange account" is a sentence)."""
        value = value.strip()
        if R.placeholder(value) or (prose and not R.token_like(value)):
            return
        slot = R.slot_kind(R.name_path(name))
        if slot:
            self.add(line, SLOT, slot)
            return
        strength = R.name_strength(name)
        if strength == "strong" or (strength == "weak" and R.token_like(value)):
            self.add(line, NAMED, _label(name))


def _value(m: re.Match[str]) -> str:
    return next((g for g in (m.group("dq"), m.group("sq"), m.group("bare")) if g), "")


def _next_line_value(line: str) -> str | None:
    """The value a key left for the next line, unless that line is a key itself."""
    first = _FIRST_VALUE.match(line)
    if not first:
        return None
    bare = first.group(3)
    if bare is not None and (bare.endswith(":") or line[first.end() :].lstrip().startswith(":")):
        return None
    return next(g for g in first.groups() if g is not None)


def _scan_lines(text: str, out: _Lines, *, prose_file: bool = False) -> None:
    pending: str | None = None  # a key ("name":) whose value is on the next line
    for lineno, line in enumerate(text.splitlines(), start=1):
        prose = prose_file or line.lstrip().startswith(_COMMENT)
        hashed_here = False
        if pending is not None and line.strip():
            value = _next_line_value(line)
            if value is not None:
                out.named(lineno, pending, value, prose=prose)
            hashed_here = R.hash_named(pending)
            pending = None
        for m in _NAMED.finditer(line):
            value = _value(m)
            rest = line[m.end() :].strip()
            if not value and not rest and m.group("dq") is None and m.group("op") == ":":
                pending = m.group("name")
            else:
                out.named(lineno, m.group("name"), value, prose=prose)
        _shapes(line, lineno, out)
        if not hashed_here:
            _entropy(line, lineno, out)


def _shapes(line: str, lineno: int, out: _Lines) -> None:
    for kind, pattern in R.SHAPES:
        if pattern.search(line):
            out.add(lineno, SHAPE, kind)
    for kind in R.url_findings(line):
        out.add(lineno, SHAPE, kind)


def _entropy(line: str, lineno: int, out: _Lines) -> None:
    for m in _TOKEN.finditer(line):
        for offset, part in R.random_parts(m.group(0)):
            if not R.hash_context(line[: m.start() + offset], part):
                out.add(lineno, ENTROPY, f"high-entropy token ({len(part)} characters)")


def _scan_tree(text: str, out: _Lines) -> None:
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, ValueError, RecursionError):
        return

    def walk(node: Any, path: tuple[str, ...], name: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    walk(value, (*path, R.normalize(str(key.value))), str(key.value))
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item, path, name)
        elif isinstance(node, yaml.ScalarNode) and path and isinstance(node.value, str):
            value = node.value.strip()
            if R.placeholder(value):
                return
            line = node.start_mark.line + 1
            slot = R.slot_kind(path, name if _SAFE_NAME.match(name) else None)
            if slot:
                out.add(line, SLOT, slot)
            else:
                out.named(line, name, value)

    walk(root, (), "")


def scan_text(text: str, path: str) -> list[SecretFinding]:
    out = _Lines()
    if path.lower().endswith(STRUCTURED_SUFFIXES) or text.lstrip().startswith("{"):
        _scan_tree(text, out)
    _scan_lines(text, out, prose_file=path.lower().endswith(PROSE_SUFFIXES))
    return sorted(SecretFinding(path, line, kind) for line, (_, kind) in out.kinds.items())


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        yield path


def scan_folder(folder: Path) -> tuple[list[SecretFinding], int]:
    """(findings, number of files scanned) for every file below ``folder``."""
    findings: list[SecretFinding] = []
    scanned = 0
    for path in _files(folder):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            findings.append(SecretFinding(rel, 0, "symbolic link (not followed, not scanned)"))
            continue
        if rel == ENV_FILE_NAME:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                findings.append(
                    SecretFinding(
                        rel,
                        0,
                        f"secrets file readable by group/others (mode "
                        f"{stat.S_IMODE(mode):o}); run: chmod 600 {path}",
                    )
                )
            continue
        scanned += 1
        if not path.is_file():
            findings.append(SecretFinding(rel, 0, "not a regular file (not scanned)"))
            continue
        if path.stat().st_size > MAX_BYTES:
            findings.append(SecretFinding(rel, 0, f"larger than {MAX_BYTES} bytes (not scanned)"))
            continue
        data = path.read_bytes()
        if b"\x00" in data[:8192]:
            findings.append(SecretFinding(rel, 0, "binary file (not scanned)"))
            continue
        findings += scan_text(data.decode("utf-8", errors="replace"), rel)
    return findings, scanned
