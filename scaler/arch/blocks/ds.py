"""ds (timm's ``ds``, depthwise-separable): an mbconv without the expansion (its syntax fixes ``expand`` at 1), so
it is planned, counted and built as one."""

from __future__ import annotations

from scaler.arch.blocks.kind import BlockKind, register
from scaler.arch.blocks.mbconv import count, module, plan
from scaler.spec.blocks import syntax

KIND = register(BlockKind(syntax("ds"), plan=plan, count=count, module=module))
