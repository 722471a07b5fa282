"""A results directory: ``results.csv`` (one row per finished trial), ``trials/<id>.json``, ``run.yaml``, and the
one schema of a results row (:class:`TrialRow`).

Rows are appended whole and fsynced the moment a trial ends (:mod:`scaler.storage`: a failed write is cut back, a
reader drops a torn last line), so a killed run (kill -9 included) loses only the trials in flight and never
duplicates a row. One writer at a time: the directory is locked for the run's lifetime. A CSV saved with a UTF-8
byte-order mark (as spreadsheets do) reads as one without.
"""

from scaler.results.row import COLUMNS, NAN, NUMERIC, REQUIRED, SCHEMA_SPLITS, SCHEMA_VERSION, TrialRow, candidate_name
from scaler.results.rundir import RunDir, environment
from scaler.results.tables import read_results, read_run_yaml, typed

__all__ = ["COLUMNS", "NAN", "NUMERIC", "REQUIRED", "SCHEMA_SPLITS", "SCHEMA_VERSION", "RunDir", "TrialRow",
           "candidate_name", "environment", "read_results", "read_run_yaml", "typed"]
