"""``scaler report``: one self-contained HTML page per run (what grid and study found, with their figures)."""
