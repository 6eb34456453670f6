"""Render the field reference of ``docs/risk-assessment.md`` from the model.

``python -m freqtrade_exec_ext.contract.docs docs/risk-assessment.md`` rewrites the part
between the two markers; a test fails when the committed file is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from freqtrade_exec_ext.contract.model import field_docs

BEGIN = "<!-- BEGIN FIELD TABLE (generated from the model; do not edit) -->"
END = "<!-- END FIELD TABLE -->"


def render_table() -> str:
    lines = [
        "| field | type | default | allowed | unit | what it controls |",
        "|---|---|---|---|---|---|",
    ]
    for path, type_name, default, allowed, unit, desc in field_docs():
        cells = [
            f"`{path}`",
            type_name,
            f"`{default}`" if default != "required" else "**required**",
            allowed,
            unit,
            desc,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def update(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{render_table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "docs/risk-assessment.md")
    path.write_text(update(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
