"""What the results say: fitted coefficients, seed noise, the study's verdicts, and the figures. No torch."""
