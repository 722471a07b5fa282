"""What a person sees while trials run: rich live bars or plain log lines (observers of the search driver)."""
