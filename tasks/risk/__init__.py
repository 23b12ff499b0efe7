"""Migration risk, measured on the real target before anything runs (docs/risk.md)."""
