"""Observability board (filled in below once the observability marts are published)."""
