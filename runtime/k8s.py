"""Per-step pod sizes for production, where `k8s_job_executor` runs each step of the night in its own pod.

The ONE place that sets them: the assets pass ``op_tags=step_tags("<step>")`` (assets/signals.py,
assets/warehouse.py, assets/ranking.py), which attaches Dagster's ``dagster-k8s/config`` tag. Other
executors (in-process, multiprocess: development, tests, the demo) ignore the tag.

Sizes come from the M-tier night measured on one machine (100k users, 20k jobs, ~1M events a day;
figures and sources in deploy/README.md, "Scale beyond one machine"), with headroom: requests are what
the scheduler reserves, memory limits are ~1.5x the request so a larger night degrades into a retry on
a bigger node (the L-tier table there) rather than an out-of-memory kill of a neighbour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

K8S_CONFIG_TAG = "dagster-k8s/config"

# The node pool for memory-heavy steps (deploy/terraform/main.tf, node group "steps"): tainted, so only
# the steps that ask for it land there, and it scales to zero between nights.
STEP_POOL_LABEL = "kairoo.io/pool"
STEP_POOL = "steps"


@dataclass(frozen=True)
class StepSize:
    """What one step's pod reserves (requests) and may use at most (memory limit)."""

    cpu: str
    memory: str
    memory_limit: str
    heavy_pool: bool

    def k8s_config(self) -> dict[str, Any]:
        """The value of the ``dagster-k8s/config`` tag for this size."""
        config: dict[str, Any] = {
            "container_config": {
                "resources": {
                    "requests": {"cpu": self.cpu, "memory": self.memory},
                    # No CPU limit: throttling a step that owns its node only slows the night down.
                    "limits": {"memory": self.memory_limit},
                }
            }
        }
        if self.heavy_pool:
            config["pod_spec_config"] = {
                "node_selector": {STEP_POOL_LABEL: STEP_POOL},
                "tolerations": [
                    {"key": STEP_POOL_LABEL, "operator": "Equal", "value": STEP_POOL, "effect": "NoSchedule"}
                ],
            }
        return config


# Step (the op's name in the nightly job) -> size. Why each, from the M-tier night (deploy/README.md):
STEP_SIZES: dict[str, StepSize] = {
    # Ingestion streams COPY from the files: 365 MB peak RSS on a 1.02M-event day.
    "signals": StepSize(cpu="1", memory="1Gi", memory_limit="2Gi", heavy_pool=False),
    # dbt is a client: the work runs inside PostgreSQL (174 s at M); the pod holds the manifest and logs.
    "warehouse_models": StepSize(cpu="1", memory="2Gi", memory_limit="3Gi", heavy_pool=False),
    "pair_features": StepSize(cpu="500m", memory="1Gi", memory_limit="2Gi", heavy_pool=False),
    # Sparse retrieval for 100k users x 20k jobs: 980 MB peak of tracked allocations, plus the writes.
    "candidates": StepSize(cpu="2", memory="4Gi", memory_limit="6Gi", heavy_pool=True),
    # LightGBM LambdaRank on 5.45M rows (7 dates, 60k judged queries): the frame, the Dataset, the model.
    "ranker_challenger": StepSize(cpu="4", memory="8Gi", memory_limit="12Gi", heavy_pool=True),
    # Scoring tonight's candidates (~12M pairs at M) in batches.
    "recommendations": StepSize(cpu="2", memory="4Gi", memory_limit="6Gi", heavy_pool=True),
}


def step_tags(step: str) -> dict[str, str]:
    """``op_tags`` for one heavy step: its ``dagster-k8s/config`` (JSON, as Dagster stores tags)."""
    try:
        size = STEP_SIZES[step]
    except KeyError:
        raise KeyError(f"runtime/k8s.py: no size for {step!r} (known: {', '.join(STEP_SIZES)})") from None
    return {K8S_CONFIG_TAG: json.dumps(size.k8s_config(), sort_keys=True)}


# How many step pods one run starts at once: the night's graph is mostly a chain, and the warehouse is
# one PostgreSQL that every step writes to.
MAX_CONCURRENT_STEPS = 3


def k8s_executor_config() -> dict[str, Any]:
    """`k8s_job_executor` config: concurrency, and the security context every step pod starts with.

    Image, service account, env secrets and config maps come from the run's container context (the
    Helm chart's includeConfigInLaunchedRuns), so the executor repeats none of them.
    """
    return {
        "max_concurrent": MAX_CONCURRENT_STEPS,
        "step_k8s_config": {
            "pod_spec_config": {
                "security_context": {
                    "run_as_non_root": True,
                    "run_as_user": 10001,
                    "run_as_group": 10001,
                    "fs_group": 10001,
                    "seccomp_profile": {"type": "RuntimeDefault"},
                }
            },
            "container_config": {
                "security_context": {"allow_privilege_escalation": False, "capabilities": {"drop": ["ALL"]}}
            },
            # Keep finished step jobs a day: a short TTL fails successes (dagster-io/dagster 22565).
            "job_spec_config": {"ttl_seconds_after_finished": 86400, "backoff_limit": 0},
        },
    }
