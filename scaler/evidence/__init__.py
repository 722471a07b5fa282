"""The evidence repeated trials give, below everything that decides: the seed noise, differences with their standard
errors, the tie set and the choice inside it. The search strategies (halving's race) and the analysis (the fit)
read the same functions. No torch."""
