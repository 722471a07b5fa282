"""A results directory on disk (:class:`RunDir`): locked, appended to whole, resumed only on its own settings."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from scaler.errors import ScalerError
from scaler.results.row import COLUMNS, SCHEMA_SPLITS, SCHEMA_VERSION, TrialRow, _cell
from scaler.results.tables import read_run_yaml
from scaler.storage import DirLock, append_whole, make_dir, write_atomic

PACKAGES = ("scaler", "torch", "numpy", "pandas", "scipy", "matplotlib")  # recorded in run.yaml's environment


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
        make_dir(self.path)
        self._lock.acquire("wait for it to finish or use another --out")

    def unlock(self) -> None:
        """Release the lock and remove its file (also when the run failed)."""
        self._lock.release()

    # -- rows ---------------------------------------------------------------------------------------------------

    def rows(self) -> list[dict[str, str]]:
        """Finished rows, the last of each trial_id (a retried trial's newest attempt); a torn last line is
        ignored."""
        if not self.csv.exists():
            return []
        text = _read_text(self.csv)
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        seen: dict[str, dict[str, str]] = {}
        for row in csv.DictReader(io.StringIO(text)):
            if tid := row.get("trial_id"):
                seen[tid] = row  # a retried trial's newest row, in the place of its first
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
            make_dir(self.trials)
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

    def trial_record(self, trial_id: str) -> dict[str, Any] | None:
        """A trial's JSON record, or None (none written, or not readable as one)."""
        try:
            data = json.loads((self.trials / f"{trial_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    # -- checkpoints (successive halving: a promoted trial continues where its rung stopped) ----------------------

    def save_checkpoint(self, trial_id: str, blob: bytes) -> None:
        """Keep a trial's checkpoint; written before its row, so a recorded trial has one unless removed."""
        make_dir(self.checkpoints)
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
        make_dir(dest)
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



def _json(o: Any) -> Any:
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)

