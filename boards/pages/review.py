"""Review queue (filled in below once the plans stage exists)."""
