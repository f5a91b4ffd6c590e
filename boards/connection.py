"""How the boards connect: least privilege, one role per purpose.

- `kairoo_reader` for every page: it may read the published `marts` schema and nothing else.
- `kairoo_reviewer` for the review page's decisions (owned by the plans stage): it may update the
  decision columns of `plans.review_queue` and nothing else.

Without an explicit URL (Settings.reader_url / reviewer_url), the role connects to the warehouse's
own server and database without a password: the embedded server trusts its local socket, and a
production server is expected to set the URLs with each role's secret.
"""

from __future__ import annotations

from dataclasses import replace

from core.database import PgParams, parse_url, warehouse_params
from core.settings import Settings

READER_ROLE = "kairoo_reader"
REVIEWER_ROLE = "kairoo_reviewer"


def role_params(warehouse: PgParams, role: str) -> PgParams:
    """The warehouse's server and database, as `role` (no password: the server must trust it)."""
    return replace(warehouse, user=role, password="")


def reader_params(settings: Settings) -> PgParams:
    """Connection parameters of the boards' read-only role."""
    if settings.reader_url:
        return parse_url(settings.reader_url)
    return role_params(warehouse_params(settings), READER_ROLE)


def reviewer_params(settings: Settings) -> PgParams:
    """Connection parameters of the role that records review decisions."""
    if settings.reviewer_url:
        return parse_url(settings.reviewer_url)
    return role_params(warehouse_params(settings), REVIEWER_ROLE)
