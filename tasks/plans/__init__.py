"""Plan records (what a run applied, from which catalog, to which) and the promotion they gate."""
