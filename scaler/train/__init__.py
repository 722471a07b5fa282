"""Training a proxy: the loop, its schedules, and the measurements (accuracy, BN calibration, latency)."""
