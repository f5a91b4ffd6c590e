"""Domain reports → Dagster metadata."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg


def plain(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Dagster metadata accepts str/int/float/bool; lists and dicts become JSON, None becomes text."""
    out: dict[str, Any] = {}
    for k, v in meta.items():
        if isinstance(v, (list, dict)):
            out[k] = dg.MetadataValue.json(v)
        elif v is None:
            out[k] = "none"
        else:
            out[k] = v
    return out
