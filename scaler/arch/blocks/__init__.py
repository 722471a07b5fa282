"""Block kinds: one file per kind (its plan, analytic count and module, registered with :func:`register`), and the
registry every part of scaler asks (the format through :mod:`scaler.spec.blocks`, :mod:`scaler.arch.plan`,
:mod:`scaler.arch.flops`, :mod:`scaler.arch.torch_model`). A new built-in kind is a file here and its line below
(its syntax beside the others' in :mod:`scaler.spec.blocks`, so a spec parses without arch); a kind of one's own
is a file anywhere that calls :func:`register`. No torch (a kind's ``module`` imports it when it builds)."""

from scaler.arch.blocks import basic, bottleneck, conv, ds, fused_mbconv, mbconv  # noqa: F401  (they register)
from scaler.arch.blocks.kind import (
    BlockKind,
    BlockPlan,
    Site,
    block_kind,
    block_kinds,
    block_plan,
    register,
    unregister,
)

__all__ = ["BlockKind", "BlockPlan", "Site", "block_kind", "block_kinds", "block_plan", "register", "unregister"]
