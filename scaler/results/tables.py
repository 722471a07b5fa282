"""Reading what a run wrote: ``results.csv`` as a checked DataFrame, ``run.yaml`` as a checked mapping."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from scaler.errors import ScalerError
from scaler.results.row import NUMERIC, REQUIRED, TrialRow


def read_run_yaml(path: str | Path) -> dict[str, Any]:
    """A run's ``run.yaml`` (or a study's ``study.yaml``), checked to be a mapping; ``schema_version`` filled in
    for directories written before it was recorded."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise ScalerError(f"{p.name} is not valid YAML; use --fresh to start over", where=p) from None
    except UnicodeDecodeError:
        raise ScalerError(f"not a UTF-8 text file ({p.name} is YAML text); use --fresh to start over",
                          where=p) from None
    except OSError as e:
        raise ScalerError(f"cannot read: {e.strerror}", where=p) from None
    if not isinstance(data, dict) or not isinstance(data.get("settings", {}), dict):
        raise ScalerError("expected a mapping with the run's settings", where=p)
    data.setdefault("schema_version", 1)
    data.setdefault("settings", {})
    return data



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
    settings_path = p.with_name("study.yaml" if p.name == "study.csv" else "run.yaml")
    settings = _settings_file(settings_path)
    _check_measurements(df, p)
    _check_rungs(df, p, settings_path.name, settings)
    if df["trial_id"].duplicated().any():  # a retried trial (after the checks: they name the file's lines)
        df = df.drop_duplicates("trial_id", keep="last")  # its newest attempt stands
    _check_one_id_per_measurement(df, p)
    df = df.reset_index(drop=True)
    df.attrs["path"] = str(p)
    df.attrs["schema_version"] = _schema_version(settings)
    return df


MEASUREMENT = ("kind", "alpha", "beta", "gamma", "phi", "seed", "rung")  # one training of one network


def _check_one_id_per_measurement(df: Any, path: Path) -> None:
    """Two trial ids for one network, seed and rung would count one training twice (and break the rung
    statistics): one line naming both and the second's line."""
    keys = [c for c in MEASUREMENT if c in df.columns]
    dup = df.duplicated(keys, keep="first")
    if dup.any():
        i = dup.idxmax()
        values = df[keys].astype(str)  # NaN equals NaN here, as it does for duplicated()
        same = (values == values.loc[i]).all(axis=1)
        first = df.loc[same[same].index[0], "trial_id"]
        raise ScalerError(f"rows {first!r} and {df.loc[i, 'trial_id']!r} are one training (same network, seed and "
                          "rung) under two trial ids; keep one", where=f"{path}:{int(i) + 2}")


# What a measurement can be: a value outside it (an accuracy of 7.5, FLOPs of 0) would silently change the choice.
# Missing values are allowed where a trial may lack them: a failed trial has no accuracy.
MAY_LACK = ("accuracy", "test_accuracy")
LEGACY_STRATEGY = "grid"  # what a run.yaml written before successive halving searched with
UNIT, POSITIVE = "between 0 and 1", "a positive finite number"
RANGES = {"accuracy": UNIT, "test_accuracy": UNIT, **dict.fromkeys(("flops", "params", "alpha", "beta", "gamma"),
                                                                   POSITIVE)}


def _check_measurements(df: Any, path: Path) -> None:
    """One line naming the file, row and column of the first value that cannot be a measurement."""
    for col, what in ((c, w) for c, w in RANGES.items() if c in df.columns):
        v = df[col]
        bad = ~(v.between(0.0, 1.0) if what == UNIT else (v > 0) & (v < math.inf)) & (v.notna() | (col not in MAY_LACK))
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise ScalerError(f"column {col!r} is {_plain(v.iloc[i])}; it must be {what}", where=f"{path}:{i + 2}")


def _check_rungs(df: Any, path: Path, settings_file: str, settings: dict[str, Any] | None) -> None:
    """Every ``rung`` is one the run had: 0 to ``search.rungs`` under successive halving, 0 otherwise (a grid, a
    study), or any whole number from 0 when there is no readable settings file to say. A missing rung reads as 0."""
    if "rung" not in df.columns:
        return
    search = settings["settings"].get("search") if settings else None
    search = search if isinstance(search, dict) else {}
    halving = search.get("strategy", LEGACY_STRATEGY) == "halving"
    top = search.get("rungs") if halving else 0
    if settings is None or isinstance(top, bool) or not isinstance(top, int):
        top, span = math.inf, "from 0 up"
    else:
        said = f"successive halving with {top} rungs" if halving else "no successive halving"
        span = f"from 0 to {top} ({settings_file}: {said})" if top else f"0 ({settings_file}: {said})"
    v = df["rung"]
    bad = v.notna() & ~((v >= 0) & (v <= top) & (v % 1 == 0))
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise ScalerError(f"column 'rung' is {_plain(v.iloc[i])}; it must be a whole number {span}",
                          where=f"{path}:{i + 2}")


def _plain(value: Any) -> str:
    """A cell as the file has it: -5, not np.int64(-5)."""
    value = value.item() if hasattr(value, "item") else value
    return repr(value)


def typed(df: Any) -> Any:
    """A results table with one dtype per column, as :class:`TrialRow` declares it: text as ``string``, counts as
    nullable ``Int64`` (a failed trial has no count), measurements as ``float64``; other columns (a study's
    ``strategy``) as ``string``."""
    hints = get_type_hints(TrialRow)
    kinds = {str: "string", int: "Int64", float: "float64"}
    out = df.astype({c: kinds.get(hints.get(c, str), "string") for c in df.columns})
    out.attrs.update(df.attrs)
    return out


def _settings_file(path: Path) -> dict[str, Any] | None:
    """The run's (or study's) settings file beside a results table; None when there is no readable one (a CSV on
    its own): a command that needs it reads it again and says what is wrong."""
    try:
        return read_run_yaml(path) if path.exists() else None
    except ScalerError:
        return None


def _schema_version(settings: dict[str, Any] | None) -> int | None:
    """What the columns mean, from the run's settings file: 1 when it predates the version; None when there is no
    readable file (a CSV on its own)."""
    try:
        return int(settings["schema_version"]) if settings is not None else None
    except (TypeError, ValueError):
        return None
