"""The search: the plan (candidates, trials), the worker side of a trial, the executors, and the driver that
alone writes a run's results."""
