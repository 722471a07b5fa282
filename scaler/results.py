"""A results directory: ``results.csv`` (one row per finished trial), ``trials/<id>.json``, ``run.yaml``, and the
one schema of a results row (:class:`TrialRow`).

Rows are appended whole and fsynced the moment a trial ends (:mod:`scaler.storage`: a failed write is cut back, a
reader drops a torn last line), so a killed run (kill -9 included) loses only the trials in flight and never
duplicates a row. One writer at a time: the directory is locked for the run's lifetime. A CSV saved with a UTF-8
byte-order mark (as spreadsheets do) reads as one without.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from scaler.errors import ScalerError
from scaler.storage import DirLock, append_whole, write_atomic

# What the columns of a results directory mean. 1: `accuracy` is scored on the dataset's evaluation split (its
# test split when it ships one), which also ranked the candidates. 2: `accuracy` is validation (carved from the
# training images), `test_accuracy` the test split, scored once per trial. Directories written before the version
# was recorded are version 1.
SCHEMA_VERSION = 2
SCHEMA_SPLITS = {1: "test", 2: "validation"}  # what `accuracy` was scored on, by schema version
NAN = float("nan")
PACKAGES = ("scaler", "torch", "numpy", "pandas", "scipy", "matplotlib")  # recorded in run.yaml's environment


@dataclass
class TrialRow:
    """One row of results.csv: what a trial is, what it costs (known before training) and what training gave.

    The field order is the column order. ``accuracy`` is top-1 on the validation split (what every decision
    reads), ``test_accuracy`` on the test split (reported, never decides), ``flops`` real
    multiply-accumulates per image after rounding; the ``*_real`` multipliers and ``flops_ratio`` compare the
    trial's network with the base's (:mod:`scaler.arch.cost`)."""

    trial_id: str
    kind: str  # base | depth | width | resolution | compound (a study also uses its strategy names)
    alpha: float
    beta: float
    gamma: float
    phi: float
    depth: float  # nominal multipliers: alpha**phi, beta**phi
    width: float
    resolution: int  # input size, px
    params: int
    flops: int
    accuracy: float = NAN
    test_accuracy: float = NAN
    seed: int = 0
    epochs: int = 0
    train_seconds: float = 0.0
    images_per_second: float = 0.0
    status: str = "failed"  # ok | diverged | failed: failed until training says otherwise
    flops_ratio: float = NAN
    depth_real: float = NAN
    width_real: float = NAN
    resolution_real: float = NAN
    gamma_used: float = NAN
    blocks: int = 0
    loss: float = NAN
    train_step_ms: float = NAN
    latency_ms: float = NAN
    latency_batch_ms: float = NAN
    device: str = ""
    message: str = ""
    aliases: str = ""  # space-separated: other candidates that are this very network (not trained again)
    rung: int = 0  # successive halving: the rung (0: cheapest); a grid's trials are all rung 0 at full budget
    budget: float = NAN  # epochs trained (a rung's budget; a continued trial's total, not only its own part)
    activations: int = 0  # output elements of every convolution per image (FAMS's runtime proxy)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidate_name(kind: str, alpha: float, beta: float, gamma: float) -> str:
    """A candidate's name, the prefix of its trial ids: ``a1.200-b1.100-g1.150`` for compound, else the kind."""
    return f"a{alpha:.3f}-b{beta:.3f}-g{gamma:.3f}" if kind == "compound" else kind


COLUMNS = tuple(f.name for f in fields(TrialRow))
REQUIRED = ("trial_id", "kind", "alpha", "beta", "gamma", "flops", "accuracy", "status")
NUMERIC = tuple(name for name, kind in get_type_hints(TrialRow).items() if kind in (float, int))


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.10g}"
    return "" if v is None else str(v)


class RunDir:
    """The results directory of one grid (or study) run."""

    def __init__(self, path: str | Path, csv_name: str = "results.csv", settings_name: str = "run.yaml",
                 columns: tuple[str, ...] = COLUMNS, start_over: str = "add --fresh to start over (the old results "
                 "are kept)"):
        self.path = Path(path)
        self.csv = self.path / csv_name
        self.trials = self.path / "trials"
        self.checkpoints = self.path / "checkpoints"
        self.run_yaml = self.path / settings_name
        self.columns = columns
        self.start_over = start_over  # how a user starts over, for the refusals below
        self._lock = DirLock(self.path)

    # -- locking ------------------------------------------------------------------------------------------------

    def lock(self) -> None:
        """Take the directory's lock or refuse, naming the holder (pid, host, start time)."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock.acquire("wait for it to finish or use another --out")

    def unlock(self) -> None:
        """Release the lock and remove its file (also when the run failed)."""
        self._lock.release()

    # -- rows ---------------------------------------------------------------------------------------------------

    def rows(self) -> list[dict[str, str]]:
        """Finished rows, first occurrence of each trial_id; a torn last line is ignored."""
        if not self.csv.exists():
            return []
        text = _read_text(self.csv)
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        seen: dict[str, dict[str, str]] = {}
        for row in csv.DictReader(io.StringIO(text)):
            tid = row.get("trial_id")
            if tid and tid not in seen:
                seen[tid] = row
        return list(seen.values())

    def repair(self) -> None:
        """Cut a torn last line (left by a kill mid-write) so appends start on a fresh line."""
        if not self.csv.exists():
            return
        with open(self.csv, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)

    def header(self) -> list[str] | None:
        """The columns of the existing CSV (None: no file or an empty one)."""
        if not self.csv.exists():
            return None
        line, newline, _ = _read_text(self.csv).partition("\n")
        return next(csv.reader([line])) if newline else None

    def append(self, row: TrialRow, record: dict[str, Any] | None = None, **extra: Any) -> None:
        """Write the trial's JSON, then its CSV row (plus ``extra`` columns) as one appended, fsynced line."""
        assert not set(extra) & set(COLUMNS), f"extra columns may not replace the row's: {sorted(extra)}"
        values = {**row.as_dict(), **extra}
        if record is not None:
            self.trials.mkdir(parents=True, exist_ok=True)
            write_atomic(self.trials / f"{row.trial_id}.json", json.dumps(record, indent=1, default=_json))
        header = self.header()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if header is None:
            header = list(self.columns)
            writer.writerow(header)
        # A file begun by an older scaler keeps its own header: rows follow it, so it stays rectangular.
        writer.writerow([_cell(values.get(c)) for c in header])
        append_whole(self.csv, buf.getvalue().encode())

    # -- checkpoints (successive halving: a promoted trial continues where its rung stopped) ----------------------

    def save_checkpoint(self, trial_id: str, blob: bytes) -> None:
        """Keep a trial's checkpoint; written before its row, so a recorded trial has one unless removed."""
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        write_atomic(self.checkpoints / f"{trial_id}.pt", blob)

    def checkpoint(self, trial_id: str) -> bytes | None:
        """A trial's checkpoint, or None (never written, or removed: the trial is then trained from scratch)."""
        path = self.checkpoints / f"{trial_id}.pt"
        return path.read_bytes() if path.exists() else None

    def remove_checkpoints(self) -> int:
        """Delete the checkpoints (the run is complete); returns how many there were."""
        if not self.checkpoints.exists():
            return 0
        n = len(list(self.checkpoints.glob("*.pt")))
        shutil.rmtree(self.checkpoints)
        return n

    # -- settings -----------------------------------------------------------------------------------------------

    def recorded(self) -> dict[str, Any] | None:
        """What ``run.yaml`` records (``settings``, ``schema_version``, execution); None when there is none."""
        return read_run_yaml(self.run_yaml) if self.run_yaml.exists() else None

    def check_settings(self, settings: dict[str, Any], ignore: tuple[str, ...] = (),
                       defaults: dict[str, Any] | None = None) -> None:
        """Refuse to resume a directory whose recorded settings differ from these (apart from ``ignore``). A
        setting added since the directory began counts as equal when it is falsy or holds its value in
        ``defaults`` (what runs did before the setting existed)."""
        if not self.csv.exists() or not self.rows():
            return
        if not self.run_yaml.exists():  # rows of unknown settings (a copied-in file) are not done work of these
            raise ScalerError(f"{self.csv.name} has rows but there is no {self.run_yaml.name} to say what settings "
                              f"trained them; {self.start_over}", where=self.path)
        old = self.recorded() or {}
        version = old.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ScalerError(f"holds results of schema {version} (accuracy scored on the "
                              f"{SCHEMA_SPLITS.get(version, 'unknown')} split); new rows (schema {SCHEMA_VERSION}: "
                              f"validation and test) cannot join them: {self.start_over}", where=self.path)
        diff = _first_difference(old.get("settings", {}), settings, ignore, defaults=defaults or {})
        if diff:
            raise ScalerError(f"holds results of different settings ({diff}); rerun with the same settings to "
                              f"resume, or {self.start_over}", where=self.path)

    def write_settings(self, settings: dict[str, Any], extra: dict[str, Any]) -> None:
        """run.yaml: the settings, how the run executes, and the software and machine it runs on."""
        data = {"schema_version": SCHEMA_VERSION, "settings": settings, **extra, "environment": environment()}
        write_atomic(self.run_yaml, yaml.safe_dump(data, sort_keys=False, width=110))

    def move_aside(self) -> Path | None:
        """``--fresh``: move the previous results into ``previous/<timestamp>/`` (never delete them)."""
        names = [p for p in self.path.iterdir() if p.name not in (".lock", "previous")] if self.path.exists() else []
        if not names:
            return None
        dest = self.path / "previous" / time.strftime("%Y%m%d-%H%M%S")
        n = 1
        while dest.exists():
            dest = dest.with_name(f"{dest.name.split('.')[0]}.{n}")
            n += 1
        dest.mkdir(parents=True)
        for p in names:
            shutil.move(str(p), dest / p.name)
        return dest


def _read_text(path: Path) -> str:
    """A CSV's text, with or without the UTF-8 byte-order mark spreadsheets write; anything else is one line."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ScalerError("not a UTF-8 text file (a results table is CSV text)", where=path) from None
    except OSError as e:
        raise ScalerError(f"cannot read: {e.strerror}", where=path) from None


def environment() -> dict[str, str]:
    """Python, platform, CPUs and the versions of the packages that shape a result (none is imported)."""
    import platform
    import sys
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform(), "processor": _processor(),
           "cpus": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _processor() -> str:
    """The CPU's model name (Linux), else what the platform says."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _first_difference(old: Any, new: Any, ignore: tuple[str, ...], at: str = "",
                      defaults: Any = None) -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        defaults = defaults if isinstance(defaults, dict) else {}
        for key in sorted(set(old) | set(new), key=str):
            path = f"{at}.{key}" if at else str(key)
            if path in ignore:
                continue
            if key not in old and (not new.get(key) or (key in defaults and new[key] == defaults[key])):
                continue  # a setting added since the run began, at its neutral value or its default
            d = _first_difference(old.get(key), new.get(key), ignore, path, defaults.get(key))
            if d:
                return d
        return None
    if old != new:
        return f"{at}: was {old!r}, now {new!r}"
    return None


def read_run_yaml(path: str | Path) -> dict[str, Any]:
    """A run's ``run.yaml`` (or a study's ``study.yaml``), checked to be a mapping; ``schema_version`` filled in
    for directories written before it was recorded."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise ScalerError(f"{p.name} is not valid YAML; use --fresh to start over", where=p) from None
    except OSError as e:
        raise ScalerError(f"cannot read: {e.strerror}", where=p) from None
    if not isinstance(data, dict) or not isinstance(data.get("settings", {}), dict):
        raise ScalerError("expected a mapping with the run's settings", where=p)
    data.setdefault("schema_version", 1)
    data.setdefault("settings", {})
    return data


def _json(o: Any) -> Any:
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)


def read_results(path: str | Path) -> Any:
    """A results CSV as a pandas DataFrame, checked: required columns, numeric values, at least one row.

    Errors are one line naming the file (and the line, for a bad value).
    """
    import pandas as pd

    p = Path(path)
    if p.is_dir():
        p = p / "results.csv"
    if not p.exists():
        raise ScalerError("no such file", where=p)
    try:
        df = pd.read_csv(p, encoding="utf-8-sig", keep_default_na=True,
                         dtype={"trial_id": str, "kind": str, "status": str, "message": str, "aliases": str})
    except pd.errors.EmptyDataError:
        raise ScalerError("the file is empty (no header, no rows)", where=p) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise ScalerError(f"not a readable CSV: {str(e).splitlines()[0]}", where=p) from None
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ScalerError(f"missing column(s) {', '.join(missing)}; a results file has {', '.join(REQUIRED)}",
                          where=p)
    if df.empty:
        raise ScalerError("no rows (no trial has finished yet)", where=p)
    for col in (c for c in NUMERIC if c in df.columns):
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna() & df[col].notna()
        if bad.any():
            i = int(bad.idxmax())
            raise ScalerError(f"column {col!r} has a non-numeric value {df[col].iloc[i]!r}",
                              where=f"{p}:{i + 2}")
        df[col] = num
    _check_measurements(df, p)
    df.attrs["path"] = str(p)
    df.attrs["schema_version"] = _schema_version(p.with_name("study.yaml" if p.name == "study.csv" else "run.yaml"))
    return df


# What a measurement can be: a value outside it (an accuracy of 7.5, FLOPs of 0) would silently change the choice.
# Missing values are allowed where a trial may lack them: a failed trial has no accuracy.
MAY_LACK = ("accuracy", "test_accuracy")
UNIT, POSITIVE = "between 0 and 1", "a positive finite number"
RANGES = {"accuracy": UNIT, "test_accuracy": UNIT, **dict.fromkeys(("flops", "alpha", "beta", "gamma"),
                                                                   POSITIVE)}


def _check_measurements(df: Any, path: Path) -> None:
    """One line naming the file, row and column of the first value that cannot be a measurement."""
    for col, what in ((c, w) for c, w in RANGES.items() if c in df.columns):
        v = df[col]
        bad = ~(v.between(0.0, 1.0) if what == UNIT else (v > 0) & (v < math.inf)) & (v.notna() | (col not in MAY_LACK))
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise ScalerError(f"column {col!r} is {v.iloc[i]!r}; it must be {what}", where=f"{path}:{i + 2}")


def typed(df: Any) -> Any:
    """A results table with one dtype per column, as :class:`TrialRow` declares it: text as ``string``, counts as
    nullable ``Int64`` (a failed trial has no count), measurements as ``float64``; other columns (a study's
    ``strategy``) as ``string``."""
    hints = get_type_hints(TrialRow)
    kinds = {str: "string", int: "Int64", float: "float64"}
    out = df.astype({c: kinds.get(hints.get(c, str), "string") for c in df.columns})
    out.attrs.update(df.attrs)
    return out


def _schema_version(run_yaml: Path) -> int | None:
    """What the columns mean, from the run's settings file: 1 when it predates the version; None when there is no
    readable file (a CSV on its own)."""
    try:
        return int(read_run_yaml(run_yaml)["schema_version"]) if run_yaml.exists() else None
    except (ScalerError, TypeError, ValueError):
        return None
