"""The ground truth of a generated world, for evaluation only.

The generator saves its latent world to `oracle_dir` (never under the landing folder; the pipeline
never reads it). Evaluation asks here how much a user *really* values an item — the utility the
events were drawn from — to check that a trained ranking recovers the truth, not only past clicks.

    true_utility(oracle_dir, ["u0000001", "u0000001"], "job", ["j000004", "j000150"]) -> array([1.9, -0.3])
    oracle_ranking(oracle_dir, ["u0000001"], "job", [["j000004", "j000150", "j000007"]], k=2)
        -> [["j000004", "j000007"]]
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from generator.latent import job_utility, module_utility
from generator.world import World

_PREFIX = {"job": ("j", 6), "module": ("m", 5)}


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> World:
    return World.load(Path(path))


def load_world(oracle_dir: str | Path) -> World:
    """The saved latent world (cached per folder and file version)."""
    folder = Path(oracle_dir).resolve()
    npz = folder / "world.npz"
    if not npz.exists():
        raise FileNotFoundError(f"{npz}: no generated world (run generator.generate with this oracle_dir)")
    return _load(str(folder), npz.stat().st_mtime)


def parse_ids(ids: Sequence[str], prefix: str, width: int, limit: int, what: str) -> np.ndarray:
    """Numbers behind ids like u0000123; ValueError naming the first malformed or unknown id."""
    arr = np.asarray(ids, dtype=str)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    ok = (np.char.str_len(arr) == width + 1) & (np.char.startswith(arr, prefix))
    digits = np.char.lstrip(np.char.replace(arr, prefix, "", count=1), "0123456789") == ""
    ok &= digits
    if not ok.all():
        raise ValueError(f"{what}: malformed id {arr[~ok][0]!r} (expected {prefix} + {width} digits)")
    nums = np.char.replace(arr, prefix, "", count=1).astype(np.int64)
    if (nums >= limit).any():
        raise ValueError(f"{what}: unknown id {arr[nums >= limit][0]!r} (this world has {limit})")
    return nums


def true_utility(
    oracle_dir: str | Path,
    user_ids: Sequence[str],
    item_type: str,
    item_ids: Sequence[str],
    include_bias: bool = True,
) -> np.ndarray:
    """Pairwise true utility (float32): element k is user_ids[k]'s utility for item_ids[k].

    item_type is "job" or "module". include_bias=False removes the injected group bias
    (only relevant when the world was generated with bias_strength > 0).
    """
    if len(user_ids) != len(item_ids):
        raise ValueError(f"user_ids ({len(user_ids)}) and item_ids ({len(item_ids)}) must pair up")
    if item_type not in _PREFIX:
        raise ValueError(f"item_type must be one of {sorted(_PREFIX)}, got {item_type!r}")
    world = load_world(oracle_dir)
    users = parse_ids(user_ids, "u", 7, len(world.u_occ), "user_ids")
    prefix, width = _PREFIX[item_type]
    n_items = len(world.j_occ) if item_type == "job" else len(world.m_level)
    items = parse_ids(item_ids, prefix, width, n_items, "item_ids")
    fn = job_utility if item_type == "job" else module_utility
    return fn(world, users, items, include_bias=include_bias)


def oracle_ranking(
    oracle_dir: str | Path,
    user_ids: Sequence[str],
    item_type: str,
    candidate_item_ids_per_user: Sequence[Sequence[str]],
    k: int,
    include_bias: bool = True,
) -> list[list[str]]:
    """For each user, their k best candidates by true utility (best first; ties by item id)."""
    if len(user_ids) != len(candidate_item_ids_per_user):
        raise ValueError("one candidate list per user is required")
    sizes = np.array([len(c) for c in candidate_item_ids_per_user], dtype=np.int64)
    flat_items = [i for c in candidate_item_ids_per_user for i in c]
    flat_users = np.repeat(np.asarray(user_ids, dtype=str), sizes)
    util = true_utility(oracle_dir, list(flat_users), item_type, flat_items, include_bias)
    group = np.repeat(np.arange(len(sizes)), sizes)
    items = np.asarray(flat_items, dtype=str)
    order = np.lexsort((items, -util, group))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return [items[order[s : s + min(k, n)]].tolist() for s, n in zip(starts, sizes, strict=True)]
