"""The HTML report opened in headless Chromium: its four charts render offline.

Skips (with the reason) when Debian's ``chromium`` is not installed.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from report_helpers import run_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PLOTS = ("slippage-per-pair", "slippage-vs-size", "cost-over-time", "maker-share")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium not installed (apt-get install chromium)"
    ),
]


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp / 'profile'}",
            "--window-size=1400,2400",
            "--virtual-time-budget=15000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into rows of pixel bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = bpp = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, bpp, rows


def test_html_report_renders_its_charts_in_chromium(ledger_db, tmp_path, capsys):
    page = tmp_path / "report.html"
    rc, _, _, err = run_report(["--db", ledger_db, "--html", str(page)], tmp_path, capsys)
    assert rc == 0, err
    url = page.resolve().as_uri()

    dom = chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-500:]
    for plot in PLOTS:  # plotly draws each chart as <svg class="main-svg"> inside its div
        section = dom.stdout.split(f'id="{plot}"', 1)[1][:200_000]
        assert 'class="main-svg"' in section, f"{plot} did not render"
    assert len(re.findall(r'class="main-svg"', dom.stdout)) >= len(PLOTS)
    assert "BTC/USDT" in dom.stdout and "Could not compute" in dom.stdout

    shot = tmp_path / "report.png"
    res = chromium(tmp_path, f"--screenshot={shot}", url)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-500:]
    width, bpp, rows = png_pixels(shot)
    colours: set[bytes] = set()
    non_white = 0
    for row in rows[::8]:
        for x in range(0, width * bpp, bpp * 4):
            px = row[x : x + 3]
            colours.add(px)
            non_white += px != b"\xff\xff\xff"
    sampled = len(rows[::8]) * len(range(0, width * bpp, bpp * 4))
    assert len(colours) > 30, "screenshot is (nearly) one colour"
    assert non_white / sampled > 0.03, "screenshot is blank"
