"""The secrets scan against a corpus: secret shapes it must find on their line, and
look-alikes (hashes in context, placeholders, identifiers) it must leave alone.  A finding
is ``file:line: kind`` and never shows the value."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploytools import DEPLOYMENT, deploy, run_cli
from secret_corpus import Gen, benign_cases, secret_cases

from freqtrade_exec_ext.deploy.secrets import scan_text

SECRETS = secret_cases()
BENIGN = benign_cases()


@pytest.mark.parametrize(("name", "file", "text", "line", "value"), SECRETS,
                         ids=[c[0] for c in SECRETS])  # fmt: skip
def test_each_secret_shape_is_found_on_its_line(name, file, text, line, value):
    found = scan_text(text, file)
    assert [f for f in found if f.line == line], f"{name}: missed ({found})"
    for finding in found:
        assert str(finding).startswith(f"{file}:{finding.line}: ")
        assert value not in str(finding) and value[:8] not in str(finding)


@pytest.mark.parametrize(("name", "file", "text"), BENIGN, ids=[c[0] for c in BENIGN])
def test_look_alikes_are_not_findings(name, file, text):
    assert scan_text(text, file) == []


def test_corpus_results(capsys):
    """At least 40 secret shapes and 10 look-alikes; every secret found, no false positive,
    over 50 differently seeded corpora (the tokens are random)."""
    assert len(SECRETS) >= 40 and len(BENIGN) >= 10
    detected = missed = false_positives = 0
    for seed in range(50):
        for _, file, text, line, _ in secret_cases(Gen(seed)):
            if any(f.line == line for f in scan_text(text, file)):
                detected += 1
            else:
                missed += 1
        false_positives += sum(1 for _, f, t in benign_cases(Gen(1000 + seed)) if scan_text(t, f))
    with capsys.disabled():
        print(
            f"\nsecrets corpus: {len(SECRETS)} shapes x 50 seeds: {detected} detected, "
            f"{missed} missed; {len(BENIGN)} look-alikes x 50 seeds: {false_positives} false "
            "positives"
        )
    assert (missed, false_positives) == (0, 0)


def test_validate_finds_the_whole_corpus_planted_in_a_deployment(project, capsys):
    assert deploy(project, "testnet") == 0
    folder = project / DEPLOYMENT
    expected = set()
    for n, (_, file, text, line, _) in enumerate(SECRETS):
        name = f"planted{n:02d}-{Path(file).name}"  # dotfiles stay dotfiles: .env.bak ...
        if Path(file).name.startswith("."):
            name = f".planted{n:02d}{Path(file).name}"
        (folder / name).write_text(text)
        expected.add(f"{name}:{line}")
    for _, file, text in BENIGN:
        (folder / f"benign-{Path(file).name}").write_text(text)
    capsys.readouterr()
    assert run_cli("validate", str(folder)) == 2
    err = capsys.readouterr().err
    found = {line.rsplit(": ", 1)[0].split(": ")[0] for line in err.splitlines()}
    assert expected <= found
    assert not [line for line in err.splitlines() if line.startswith("benign-")]
    for *_, value in SECRETS:
        assert value not in err and value[:8] not in err
