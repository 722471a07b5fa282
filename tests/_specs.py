"""Specs shared by the tests."""

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
