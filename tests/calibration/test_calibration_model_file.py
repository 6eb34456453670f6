"""The model file: written whole, read back equal, refused with one line when unusable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from synthetic import market
from test_calibration_apply import _model

from freqtrade_exec_ext.calibration.model import ModelError, dump, load, save


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "m.json"
    save(_model(market(200)), path)
    return path


def test_roundtrip(good):
    m = load(good)
    assert dump(m) == good.read_text()
    assert m.schema_version == 1 and m.market == "binance spot"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: "not json{", "not JSON"),
        (lambda d: {**d, "kind": "something else"}, "not an execution model"),
        (lambda d: {**d, "schema_version": 2}, "schema_version 2 is not supported"),
        (lambda d: {**d, "min_fills": 0}, "min_fills"),
        (lambda d: {**d, "surprise": 1}, "surprise"),
        (lambda d: {**d, "cells": [{**d["cells"][0], "cost_slices_bps": [3.0, 2.0]}]},
         "cost_slices_bps"),
    ],
)
def test_bad_files_are_one_line_naming_the_file(good, tmp_path, edit, message):
    data = json.loads(good.read_text())
    bad = tmp_path / "bad.json"
    new = edit(data)
    bad.write_text(new if isinstance(new, str) else json.dumps(new))
    with pytest.raises(ModelError) as exc:
        load(bad)
    text = str(exc.value)
    assert "\n" not in text and str(bad) in text and message in text


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load(tmp_path / "nope.json")


def test_save_replaces_whole_or_not_at_all(good, tmp_path, monkeypatch):
    before = good.read_text()
    import freqtrade_exec_ext.calibration.model as mod

    def boom(_m):
        raise RuntimeError("disk full")

    monkeypatch.setattr(mod, "dump", boom)
    with pytest.raises(RuntimeError):
        save(load(good), good)
    assert good.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
