"""This package's own tables in the bot's database (SQLAlchemy Core, no Freqtrade models).

Freqtrade's tables are named only through :mod:`freqtrade_exec_ext.compat.schema`; the
tables here belong to this package and are created on first use.
"""
