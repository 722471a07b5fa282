"""What the commands share: the console, phi ranges, figure formats (no torch)."""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from scaler.api import ScalerError

FLOPS_NOTE = "FLOPs are multiply-accumulates per image (the EfficientNet paper's unit: B0 = 0.39B)."
ACTIVATIONS_NOTE = "Activations (acts) are the output elements of every convolution per image (FAMS's runtime proxy)."
LIMIT_HELP = ("Train at most N more trials of the plan in this run (0: plan and warn only); rerun to continue "
              "where it stopped.")
TRIAL_TIMEOUT_HELP = ("Stop a trial that takes longer than this in its worker (data, build, training) and record it "
                      "as failed; the grid goes on, and a rerun retries it. Trials then run in worker processes, "
                      "even with one worker [default: proxy.trial_timeout, else no limit].")


def console() -> Any:
    from rich.console import Console

    # Piped output keeps whole tables (rich would wrap them to 80 columns).
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
    return Console(width=width)


def parse_phis(text: str) -> list[float]:
    """``4`` | ``0,1,2`` | ``0..7`` | ``0..2:0.5`` | ``-1..1`` -> list of phi values (at most
    ``MAX_MEMBERS``, counted before any is made)."""
    from scaler.api.specs import MAX_MEMBERS

    out: list[float] = []
    try:
        for part in text.split(","):
            lo_s, dots, rest = part.strip().partition("..")
            hi_s, _, step_s = rest.partition(":")
            lo, hi, step = float(lo_s), float(hi_s or lo_s), float(step_s or 1)
            if not all(map(math.isfinite, (lo, hi, step))) or step <= 0 or hi < lo:
                raise ValueError
            n = round((hi - lo) / step) if dots else 0
            if len(out) + n + 1 > MAX_MEMBERS:
                raise ScalerError(f"--phi {text}: more than {MAX_MEMBERS} members; use a coarser step or a "
                                  "shorter range")
            out.extend(round(lo + i * step, 10) for i in range(n + 1) if lo + i * step <= hi + 1e-9)
    except ValueError:
        raise ScalerError(f"--phi: cannot read {text!r}; use a number (4), a list (0,1,2) or a range (0..7, "
                          "0..2:0.5)") from None
    return out


def complete_preset(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    """Shell completion of a preset name (``emit --preset``)."""
    from click.shell_completion import CompletionItem

    from scaler.api.specs import PRESETS

    return [CompletionItem(name) for name in PRESETS if name.startswith(incomplete)]


def complete_spec(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    """Shell completion of a SPEC: the built-in names that match (presets, ``quickstart``), and files (the shell
    lists them)."""
    from click.shell_completion import CompletionItem

    from scaler.api.specs import NAMES

    return [*(CompletionItem(name) for name in NAMES if name.startswith(incomplete)),
            CompletionItem(incomplete, type="file")]


def formats(text: str) -> list[str]:
    return [f for f in (x.strip().lower() for x in text.split(",")) if f]
