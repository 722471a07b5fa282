"""The network: the resolved layer plan, its analytic cost, real multipliers after rounding, the torch builder.

Only ``torch_model`` imports torch; import the modules directly."""
