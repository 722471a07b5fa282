"""Data: readers of the supported formats, stratified splits, the in-memory registry, batched transforms.

``readers`` and ``splits`` need numpy only; ``registry`` and ``transforms`` hold torch tensors."""
