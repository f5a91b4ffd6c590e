"""Thin Dagster assets, one module per stage. They adapt domain code; they hold no business logic."""
