"""The network: the resolved layer plan (``plan``), what it costs (``counts``: the result type; ``flops``: counted
from the plan; ``measured``: traced on a built model; ``factory``: a user's network, built and traced), its real
multipliers after rounding (``rounding``), the torch builder (``torch_model``).

Only ``torch_model``, ``measured`` and ``factory`` import torch; import the modules directly."""
