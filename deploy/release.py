"""Write what one environment's release needs beyond the committed, environment-agnostic files.

The committed Helm values (deploy/helm/values.yaml) and raw manifests (deploy/k8s/) name no account,
host, bucket or digest. This module writes them, from the two facts CI has at deploy time:

- the image that `make image` pushed, as ``<repository>@sha256:<digest>`` (a registry digest, never a tag);
- ``terraform output -json`` of deploy/terraform (the names in ``TERRAFORM_OUTPUTS``).

Into ``deploy/.generated/`` (git-ignored) it writes:

- ``values-release.yaml``: the Helm overlay passed after values.yaml (user deployment pinned by digest,
  the RDS host, the IRSA role annotations);
- ``environment.yaml``: the ``kairoo-environment`` ConfigMap (bucket URLs, region) every pod reads;
- ``kustomization.yaml``: deploy/k8s plus that ConfigMap, with the MLflow image pinned to the same digest.

    python -m deploy.release --terraform-output tf.json --image "$(cat deploy/.generated/image.txt)"
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEPLOY_DIR = Path(__file__).resolve().parent
VALUES_PATH = DEPLOY_DIR / "helm" / "values.yaml"
RELEASE_PATH = DEPLOY_DIR / "helm" / "release.yaml"
GENERATED_DIR = DEPLOY_DIR / ".generated"

# The Terraform outputs this release reads (deploy/terraform/outputs.tf declares them; a test holds
# the two lists equal, so a renamed output fails offline instead of at deploy time).
TERRAFORM_OUTPUTS = (
    "region",
    "cluster_name",
    "db_host",
    "db_master_secret_arn",
    "landing_bucket",
    "artifacts_bucket",
    "compute_logs_bucket",
    "code_role_arn",
    "dagster_role_arn",
    "image_repository",
)

# The user deployment the overlay pins, and the image name kustomize replaces in deploy/k8s.
CODE_LOCATION = "kairoo"
IMAGE_NAME = "kairoo-platform"
ENVIRONMENT_CONFIGMAP = "kairoo-environment"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REPOSITORY = re.compile(r"^[a-z0-9][a-z0-9._\-/:]*[a-z0-9]$")


class ReleaseInputError(ValueError):
    """An input of the release (image reference, Terraform outputs, values) is not what it must be."""


@dataclass(frozen=True)
class ImageRef:
    """A pushed image, addressed by content: the same digest always means the same bytes."""

    repository: str
    digest: str

    def __post_init__(self) -> None:
        if not _DIGEST.match(self.digest):
            raise ReleaseInputError(
                f"image digest {self.digest!r} is not sha256:<64 hex>: pin a pushed image's registry digest"
            )
        if not _REPOSITORY.match(self.repository) or "@" in self.repository:
            raise ReleaseInputError(f"image repository {self.repository!r} is not a repository name")

    @property
    def reference(self) -> str:
        return f"{self.repository}@{self.digest}"


def parse_image_ref(text: str) -> ImageRef:
    """``<repository>@sha256:<digest>`` (what ``docker inspect`` lists in RepoDigests) as an ImageRef."""
    text = text.strip()
    if "@" not in text:
        raise ReleaseInputError(
            f"image reference {text!r} has no @sha256 digest: a tag can be moved, the release pins digests"
        )
    repository, digest = text.split("@", 1)
    return ImageRef(repository=repository, digest=digest)


def read_terraform_outputs(data: dict[str, Any], source: str = "terraform output -json") -> dict[str, str]:
    """The outputs this release needs, from ``terraform output -json`` ({name: {"value": ...}})."""
    missing = [name for name in TERRAFORM_OUTPUTS if name not in data]
    if missing:
        raise ReleaseInputError(f"{source}: missing outputs {', '.join(missing)} (outputs.tf)")
    outputs: dict[str, str] = {}
    for name in TERRAFORM_OUTPUTS:
        entry = data[name]
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value:
            raise ReleaseInputError(f"{source}: output {name!r} must be a non-empty string, got {value!r}")
        outputs[name] = value
    return outputs


def release_overlay(values: dict[str, Any], outputs: dict[str, str], image: ImageRef) -> dict[str, Any]:
    """The Helm overlay for one environment: the user deployment by digest, the host, the IRSA roles.

    Helm replaces a list whole, so the overlay carries every entry of ``deployments`` from values.yaml,
    unchanged but for the code location's image (repository + digest, no tag).
    """
    deployments = copy.deepcopy(values.get("dagster-user-deployments", {}).get("deployments") or [])
    pinned = [d for d in deployments if d.get("name") == CODE_LOCATION]
    if len(pinned) != 1:
        raise ReleaseInputError(
            f"{VALUES_PATH.name}: expected one user deployment named {CODE_LOCATION!r}, found {len(pinned)}"
        )
    image_values = pinned[0].setdefault("image", {})
    image_values.pop("tag", None)
    image_values["repository"] = image.repository
    image_values["digest"] = image.digest
    image_values.setdefault("pullPolicy", "IfNotPresent")
    return {
        "postgresql": {"postgresqlHost": outputs["db_host"]},
        "serviceAccount": {"annotations": {IRSA_ANNOTATION: outputs["dagster_role_arn"]}},
        "dagster-user-deployments": {
            "serviceAccount": {"annotations": {IRSA_ANNOTATION: outputs["code_role_arn"]}},
            "deployments": deployments,
        },
    }


def environment_configmap(outputs: dict[str, str], namespace: str) -> dict[str, Any]:
    """The non-secret, environment-specific variables of every pod (core/settings.py reads KAIROO_*)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": ENVIRONMENT_CONFIGMAP,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "kairoo-platform"},
        },
        "data": {
            "KAIROO_LANDING_URL": f"s3://{outputs['landing_bucket']}/",
            "KAIROO_MLFLOW_ARTIFACTS": f"s3://{outputs['artifacts_bucket']}/mlflow",
            "DAGSTER_COMPUTE_LOG_BUCKET": outputs["compute_logs_bucket"],
            "AWS_REGION": outputs["region"],
            "AWS_DEFAULT_REGION": outputs["region"],
        },
    }


def kustomization(image: ImageRef) -> dict[str, Any]:
    """deploy/k8s plus the environment ConfigMap, every ``kairoo-platform`` image pinned by digest."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["../k8s", "environment.yaml"],
        "images": [{"name": IMAGE_NAME, "newName": image.repository, "digest": image.digest}],
    }


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of values files: maps merge key by key, anything else (lists too) is replaced."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def write_release(
    terraform_output: Path, image_ref: str, out_dir: Path = GENERATED_DIR, values_path: Path = VALUES_PATH
) -> list[Path]:
    """Write the three generated files for one environment; returns their paths."""
    image = parse_image_ref(image_ref)
    try:
        data = json.loads(terraform_output.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ReleaseInputError(f"{terraform_output}: not terraform output -json ({exc})") from exc
    outputs = read_terraform_outputs(data, source=str(terraform_output))
    if outputs["image_repository"] != image.repository:
        raise ReleaseInputError(
            f"image {image.reference} is not in this environment's repository {outputs['image_repository']}"
        )
    values = yaml.safe_load(values_path.read_text())
    namespace = yaml.safe_load(RELEASE_PATH.read_text())["release"]["namespace"]
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "values-release.yaml": release_overlay(values, outputs, image),
        "environment.yaml": environment_configmap(outputs, namespace),
        "kustomization.yaml": kustomization(image),
    }
    written = []
    for name, content in files.items():
        path = out_dir / name
        header = f"# Generated by deploy/release.py for {image.reference}; do not edit.\n"
        path.write_text(header + _dump(content))
        written.append(path)
    return written


def _dump(content: dict[str, Any]) -> str:
    return yaml.safe_dump(content, sort_keys=False, default_flow_style=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--terraform-output", type=Path, required=True, help="`terraform output -json` file")
    parser.add_argument("--image", required=True, help="<repository>@sha256:<digest> pushed by `make image`")
    parser.add_argument("--out", type=Path, default=GENERATED_DIR)
    args = parser.parse_args(argv)
    try:
        for path in write_release(args.terraform_output, args.image, args.out):
            print(f"wrote {path}")
    except ReleaseInputError as exc:
        print(f"deploy.release: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
