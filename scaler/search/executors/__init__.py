"""Where trials run: in this process, in a pool of worker processes, or as Ray tasks. Each executor takes the
trials the driver hands it and yields (trial, row, record) as each finishes; none writes results."""
