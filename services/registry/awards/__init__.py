"""Awards and nominations: programmes, cycles, eligibility, review panels and scores."""
