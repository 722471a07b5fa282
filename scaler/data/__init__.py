"""Data: readers of the supported formats, stratified splits, datasets by name in memory, batched transforms.

``readers`` and ``splits`` need numpy only; ``datasets`` and ``transforms`` hold torch tensors."""
