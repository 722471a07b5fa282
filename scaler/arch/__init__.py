"""The network: the resolved layer plan (``plan``), its block kinds (``blocks``: one registry, one file per kind),
what it costs (``counts``: the result type; ``flops``: counted from the plan; ``measured``: traced on a built model;
``factory``: a user's network, built and traced), its real multipliers after rounding (``rounding``), the torch
builder (``torch_model``, from the torch ``layers``).

Only ``torch_model``, ``layers``, ``measured`` and ``factory`` import torch (a block kind's ``module`` imports
``layers`` when it builds); import the modules directly."""
