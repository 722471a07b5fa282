"""Specs shared by the tests."""

from typing import Any

import yaml

# The minimal example, exactly as written there.
MINIMAL_YAML = """\
name: mini
resolution: 64
num_classes: 10
stem: {channels: 32}
stages:
  - ds_r1_k3_s1_e1_c16_se0.25
  - ir_r2_k3_s2_e6_c24_se0.25
  - {block: mbconv, repeats: 2, kernel: 5, stride: 2, expand: 6, channels: 40, se: 0.25}
head: {channels: 1280}
"""
MINIMAL = yaml.safe_load(MINIMAL_YAML)

# A network small enough to train in seconds (8 lines: tests append sections and count on the line numbers).
TINY_YAML = """\
name: tiny
resolution: 16
num_classes: 10
stem: {channels: 8}
stages:
  - ds_r1_k3_s1_e1_c8
  - ir_r2_k3_s2_e2_c16_se0.25
head: {channels: 32}
"""
TINY = {**yaml.safe_load(TINY_YAML), "dropout": 0.0, "drop_path": 0.0}

# A network with room to shrink, small enough to train in seconds (TINY's 8-channel, 1-2 block stages round every
# phi = -1 candidate onto a baseline).
SHRINKABLE = """\
name: shrink
resolution: 24
num_classes: 10
stem: {channels: 16}
stages: [ds_r1_k3_s1_e1_c16, ir_r3_k3_s2_e2_c32_se0.25, ir_r4_k3_s2_e2_c48_se0.25]
head: {channels: 64}
dropout: 0.0
drop_path: 0.0
search: {step: 0.2, strategy: grid, confirm: 0}
proxy: {subset: 300, batch_size: 64}
"""


def fake_trial(kind: str, a: float = 1.0, b: float = 1.0, g: float = 1.0, seed: int = 0, epochs: int = 9) -> Any:
    """A rung-0 trial of the tiny network under the candidate's name, for tests of what decides between trials
    (its network is the tiny one whatever the multipliers)."""
    from scaler.config import ProxyConfig
    from scaler.search.candidates import Candidate
    from scaler.search.trial import Trial, planned_row
    from scaler.spec import Spec

    c = Candidate(kind, a, b, g, 0.0 if kind == "base" else 1.0)
    spec = Spec.model_validate(TINY)
    return Trial(trial_id=f"{c.key}-s{seed}-r0", candidate=c, seed=seed, spec=spec,
                 proxy=ProxyConfig(dataset="digits", epochs=epochs), planned=planned_row(c, spec, spec, epochs),
                 image_size=spec.resolution)
