"""The database reading paths; each returns finished order frames and the rows it skipped.

* :mod:`.sqlite`: id ranges of ``orders`` read by worker processes with the stdlib driver
  (numbers only cross into Python; each ledger JSON is parsed once, inside SQLite);
* :mod:`.postgres`: ``COPY (query) TO STDOUT`` CSV, parsed by pandas' C parser;
* :mod:`.generic`: any other SQLAlchemy dialect, streamed rows, JSON parsed in Python.
"""
