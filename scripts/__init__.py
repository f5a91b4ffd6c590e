"""Command-line entry points that drive the platform (`make demo`, `make docs`).

Not part of the code location: they import it, it never imports them.
"""
