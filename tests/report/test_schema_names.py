"""The table names the report uses without importing Freqtrade are Freqtrade's."""

from __future__ import annotations

from freqtrade_exec_ext.compat import schema


def test_declared_table_names_are_freqtrades():
    assert schema.mismatched_tables() == []
    assert schema.missing_columns() == []
