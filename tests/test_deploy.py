"""Offline validation of the production deployment (deploy/): what can be checked without a cluster,
a registry or Terraform providers. What needs the network (helm template, terraform validate, the
image build) is the networked CI step in deploy/README.md.

- yamllint on every YAML file of the repository (.yamllint.yaml);
- our Helm values, alone and with the generated release overlay, against the chart's own
  values.schema.json (deploy/helm/chart/, source and version in SOURCE.md);
- every raw manifest (deploy/k8s/ and the generated ConfigMap) against the Kubernetes schemas that
  kubernetes-validate ships, for the Kubernetes version the Terraform deploys;
- checkov on Terraform, the manifests and the Dockerfile: zero failed checks, every skip with a reason;
- python-hcl2 on Terraform: pinned versions, encryption, backups, deletion protection, multi-AZ in
  production, no literal secrets; and no `latest` tag anywhere;
- the production executor and the per-step pod sizes, as dagster-k8s itself reads them.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import hcl2
import jsonschema
import kubernetes_validate
import pytest
import yaml
from referencing import Registry, Resource

from deploy import release

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
TERRAFORM = DEPLOY / "terraform"
HELM = DEPLOY / "helm"
K8S = DEPLOY / "k8s"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
K8S_SCHEMA_REF = "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json"
# A test input standing for a pushed image's registry digest (any 64 hex digits are a valid digest).
TEST_DIGEST = "sha256:" + hashlib.sha256(b"kairoo-platform test image").hexdigest()


def _unquote(node: Any) -> Any:
    """python-hcl2 8 keeps HCL's quotes on labels and string literals ('"5.21.0"'): drop them, and its
    __is_block__ markers, so the tests read plain values (expressions stay as "${...}")."""
    if isinstance(node, dict):
        return {_unquote(k): _unquote(v) for k, v in node.items() if k != "__is_block__"}
    if isinstance(node, list):
        return [_unquote(v) for v in node]
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


def _load_hcl(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return _unquote(hcl2.load(fh))


@functools.cache
def _terraform() -> dict[str, list[dict[str, Any]]]:
    """Every top-level block of deploy/terraform/*.tf, by block type."""
    blocks: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(TERRAFORM.glob("*.tf")):
        for kind, items in _load_hcl(path).items():
            if kind != "__comments__":
                blocks.setdefault(kind, []).extend(items)
    return blocks


def _resources(kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: body for item in _terraform()["resource"] if kind in item for name, body in item[kind].items()
    }


@functools.cache
def _tfvars() -> dict[str, dict[str, Any]]:
    return {p.stem: _load_hcl(p) for p in sorted((TERRAFORM / "environments").glob("*.tfvars"))}


def _kubernetes_version() -> str:
    versions = {env["kubernetes_version"] for env in _tfvars().values()}
    assert len(versions) == 1, f"environments run different Kubernetes versions: {versions}"
    return versions.pop()


def _values() -> dict[str, Any]:
    return yaml.safe_load((HELM / "values.yaml").read_text())


def _fake_terraform_output() -> dict[str, Any]:
    """`terraform output -json` shaped like ours: every declared output, with plausible values."""
    values = {
        "region": "eu-west-1",
        "cluster_name": "kairoo-production",
        "db_host": "kairoo-production.abcdefghij.eu-west-1.rds.amazonaws.com",
        "db_master_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1",
        "landing_bucket": "kairoo-production-landing",
        "artifacts_bucket": "kairoo-production-artifacts",
        "compute_logs_bucket": "kairoo-production-compute-logs",
        "code_role_arn": "arn:aws:iam::123456789012:role/kairoo-production-code",
        "dagster_role_arn": "arn:aws:iam::123456789012:role/kairoo-production-dagster",
        "image_repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/kairoo-production/kairoo-platform",
    }
    return {k: {"sensitive": False, "type": "string", "value": v} for k, v in values.items()}


# --- YAML -------------------------------------------------------------------------------------------


def test_every_yaml_file_passes_yamllint():
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    config = YamlLintConfig(file=str(ROOT / ".yamllint.yaml"))
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.yaml", "*.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert any(p.startswith("deploy/helm/") for p in tracked), "no deploy YAML found: wrong root?"
    problems = []
    for rel in tracked:
        path = ROOT / rel
        if config.is_file_ignored(rel) or not path.exists():
            continue
        for p in linter.run(path.read_text(), config, rel):
            # Errors nowhere; warnings (long lines) tolerated in dbt and contract YAML, not in deploy/.
            if p.level == "error" or rel.startswith("deploy/") or rel == ".yamllint.yaml":
                problems.append(f"{rel}:{p.line}:{p.column} {p.level} {p.message} ({p.rule})")
    assert not problems, "\n".join(problems)


# --- Helm values against the chart's schema ----------------------------------------------------------


def _without_defaults_required(node: Any, in_condition: bool = False) -> Any:
    """The chart's schema with its `required` lists removed, except inside if/then conditions.

    Helm validates the chart's own values.yaml merged with ours; every field the schema requires has a
    default there. Offline we validate our files alone, so only the requirements our choices trigger
    (e.g. type K8sRunLauncher requires config.k8sRunLauncher) are kept; types, enums and unknown keys
    (additionalProperties: false) are checked in full.
    """
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "required" and isinstance(value, list) and not in_condition:
                continue
            out[key] = _without_defaults_required(value, in_condition or key in ("then", "else"))
        return out
    if isinstance(node, list):
        return [_without_defaults_required(v, in_condition) for v in node]
    return node


def _chart_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((HELM / "chart" / "values.schema.json").read_text())
    k8s_dir = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    defs = json.loads(
        (k8s_dir / f"v{_kubernetes_version()}.0-local-strict" / "_definitions.json").read_text()
    )
    # The chart points at #/definitions/...; the shipped file keeps them under $defs and refers to
    # #/$defs/... internally: expose both names in one resource at the chart's URI.
    k8s = {"$schema": defs["$schema"], "$defs": defs["$defs"], "definitions": defs["$defs"]}
    registry = Registry().with_resource(K8S_SCHEMA_REF, Resource.from_contents(k8s))
    # Draft 7, as helm's validator: keywords beside a $ref are ignored.
    return jsonschema.Draft7Validator(_without_defaults_required(schema), registry=registry)


def _schema_errors(values: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _chart_validator().iter_errors(values)
    ]


def test_helm_values_match_the_chart_schema():
    assert _schema_errors(_values()) == []


def test_the_chart_schema_check_rejects_what_helm_would_reject():
    typo = _values()
    typo["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["maxConcurentRuns"] = 3
    wrong_enum = _values()
    wrong_enum["runLauncher"]["config"]["k8sRunLauncher"]["imagePullPolicy"] = "Sometimes"
    wrong_probe = _values()
    wrong_probe["dagster-user-deployments"]["deployments"][0]["livenessProbe"] = {"httpGett": {"port": 3030}}
    assert any("maxConcurentRuns" in e for e in _schema_errors(typo))
    assert any("Sometimes" in e for e in _schema_errors(wrong_enum))
    assert any("httpGett" in e for e in _schema_errors(wrong_probe))


def test_chart_version_is_dagster_version_and_schema_matches_its_record():
    chart = yaml.safe_load((HELM / "release.yaml").read_text())["chart"]
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"dagster=={chart['version']}" in pins
    digest = hashlib.sha256((HELM / "chart" / "values.schema.json").read_bytes()).hexdigest()
    assert digest in (HELM / "chart" / "SOURCE.md").read_text(), "schema changed without updating SOURCE.md"


def test_helm_values_are_the_production_instance():
    v = _values()
    assert v["runLauncher"]["type"] == "K8sRunLauncher"
    daemon = v["dagsterDaemon"]
    assert daemon["runMonitoring"]["enabled"] is True
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] >= 1
    limits = {
        (t["key"], json.dumps(t.get("value"), sort_keys=True)): t["limit"]
        for t in queued["tagConcurrencyLimits"]
    }
    assert limits[("dagster/partition", json.dumps({"applyLimitPerUniqueValue": True}))] == 1
    assert limits[("dagster/backfill", "null")] == 1
    # External PostgreSQL, password only from the named Secret.
    assert v["postgresql"]["enabled"] is False and "postgresqlPassword" not in v["postgresql"]
    assert v["generatePostgresqlPasswordSecret"] is False and v["global"]["postgresqlSecretName"]
    assert v["computeLogManager"]["type"] == "S3ComputeLogManager"
    assert v["telemetry"]["enabled"] is False
    (code,) = v["dagster-user-deployments"]["deployments"]
    assert code["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert "tag" not in code["image"] and "digest" not in code["image"], "the digest comes from the overlay"
    assert {"name": "KAIROO_EXECUTOR", "value": "k8s"} in code["env"]
    # Secrets are referenced by name only; no env entry carries a credential's value.
    for entry in code["env"]:
        assert not re.search(r"PASSWORD|SECRET|TOKEN|KEY|DATABASE_URL|TRACKING_URI", entry["name"]), entry


# --- The release overlay (image digest + Terraform outputs) ------------------------------------------


def test_release_reads_exactly_the_outputs_terraform_declares():
    declared = {name for item in _terraform()["output"] for name in item}
    assert set(release.TERRAFORM_OUTPUTS) == declared


def test_release_overlay_pins_the_digest_and_validates(tmp_path):
    tf_json = tmp_path / "tf.json"
    tf_json.write_text(json.dumps(_fake_terraform_output()))
    repository = _fake_terraform_output()["image_repository"]["value"]
    written = release.write_release(tf_json, f"{repository}@{TEST_DIGEST}", out_dir=tmp_path / "gen")
    assert sorted(p.name for p in written) == [
        "environment.yaml",
        "kustomization.yaml",
        "values-release.yaml",
    ]

    overlay = yaml.safe_load((tmp_path / "gen" / "values-release.yaml").read_text())
    merged = release.deep_merge(_values(), overlay)
    assert _schema_errors(merged) == []
    (code,) = merged["dagster-user-deployments"]["deployments"]
    assert code["image"] == {"repository": repository, "digest": TEST_DIGEST, "pullPolicy": "IfNotPresent"}
    # The overlay replaced the list whole: everything else of the entry survived.
    assert code["includeConfigInLaunchedRuns"] == {"enabled": True} and code["envSecrets"]
    assert merged["postgresql"]["postgresqlHost"].endswith(".rds.amazonaws.com")
    assert merged["serviceAccount"]["annotations"][release.IRSA_ANNOTATION].endswith("-dagster")

    configmap = yaml.safe_load((tmp_path / "gen" / "environment.yaml").read_text())
    kubernetes_validate.validate(configmap, _kubernetes_version(), strict=True)
    assert configmap["data"]["KAIROO_LANDING_URL"] == "s3://kairoo-production-landing/"
    kustomization = yaml.safe_load((tmp_path / "gen" / "kustomization.yaml").read_text())
    assert kustomization["images"] == [
        {"name": "kairoo-platform", "newName": repository, "digest": TEST_DIGEST}
    ]
    assert (tmp_path / "gen" / kustomization["resources"][0]).resolve() == K8S or kustomization["resources"][
        0
    ] == "../k8s"


def test_release_refuses_tags_and_incomplete_outputs(tmp_path):
    with pytest.raises(release.ReleaseInputError, match="no @sha256 digest"):
        release.parse_image_ref("kairoo-platform:1.0")
    with pytest.raises(release.ReleaseInputError, match="sha256"):
        release.parse_image_ref("kairoo-platform@sha256:abc")
    outputs = _fake_terraform_output()
    del outputs["db_host"]
    with pytest.raises(release.ReleaseInputError, match="missing outputs db_host"):
        release.read_terraform_outputs(outputs)
    tf_json = tmp_path / "tf.json"
    tf_json.write_text(json.dumps(_fake_terraform_output()))
    with pytest.raises(release.ReleaseInputError, match="not in this environment's repository"):
        release.write_release(tf_json, f"other.example/kairoo@{TEST_DIGEST}", out_dir=tmp_path / "gen")


# --- Raw manifests -----------------------------------------------------------------------------------


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") != "Kustomization":
                docs.append((path.name, doc))
    return docs


def test_every_raw_manifest_is_valid_kubernetes():
    version = _kubernetes_version()
    docs = _manifests()
    assert {d["kind"] for _, d in docs} >= {"Namespace", "Deployment", "Service", "NetworkPolicy"}
    for _name, doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)  # raises naming the field
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def test_kubernetes_validation_catches_an_unknown_field():
    _name, deployment = next((n, d) for n, d in _manifests() if d["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, _kubernetes_version(), strict=True)


# --- checkov -----------------------------------------------------------------------------------------


# Not in `make test-fast`: checkov is a 15-25 s scan in its own process (its own venv); `make test` runs it.
@pytest.mark.slow
def test_checkov_finds_nothing_but_documented_skips():
    assert CHECKOV.exists(), "checkov's venv is missing: `make .venv-checkov/.installed` (make test does it)"
    done = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(DEPLOY),
            "--framework",
            "terraform",
            "kubernetes",
            "dockerfile",
            "--skip-download",
            "--compact",
            "-o",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    frameworks = {r["check_type"] for r in reports}
    assert frameworks == {"terraform", "kubernetes", "dockerfile"}, (frameworks, done.stderr[-2000:])
    failed = [
        f"{r['check_type']}: {c['check_id']} {c['check_name']} at {c['file_path']}:{c['resource']}"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    unparsed = [e for r in reports for e in r["results"].get("parsing_errors", [])]
    assert not unparsed, f"checkov could not parse {unparsed}"
    skipped = [c for r in reports for c in r["results"]["skipped_checks"]]
    assert skipped, "the documented skips were not seen: is checkov reading the inline comments?"
    readme = (DEPLOY / "README.md").read_text()
    for c in skipped:
        assert len((c.get("check_result") or {}).get("suppress_comment", "").strip()) > 10, c["check_id"]
        assert c["check_id"] in readme, f"skip {c['check_id']} is not documented in deploy/README.md"
    assert sum(r["summary"]["passed"] for r in reports) > 200


# --- Terraform (python-hcl2) -------------------------------------------------------------------------

EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def test_terraform_providers_and_modules_are_pinned_exactly():
    (terraform,) = _terraform()["terraform"]
    providers = terraform["required_providers"][0]
    assert providers and all(EXACT_VERSION.match(p["version"]) for p in providers.values()), providers
    modules = {name: body for item in _terraform()["module"] for name, body in item.items()}
    assert set(modules) == {"vpc", "eks"}
    for name, body in modules.items():
        assert EXACT_VERSION.match(body["version"]), (name, body["version"])


def test_no_latest_tag_anywhere():
    texts = {
        p: p.read_text() for p in [*DEPLOY.rglob("*.tf"), *DEPLOY.rglob("*.yaml"), DEPLOY / "Dockerfile"]
    }
    offenders = [
        str(p.relative_to(ROOT)) for p, t in texts.items() if re.search(r"(:latest\b|tag:\s*[\"']?latest)", t)
    ]
    assert not offenders
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    default_base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M)
    assert default_base and re.search(r":\d+\.\d+\.\d+-", default_base.group(1)), (
        "base image: a patch version"
    )


def test_database_is_encrypted_backed_up_protected_and_multi_az_in_production():
    (db,) = _resources("aws_db_instance").values()
    assert db["storage_encrypted"] is True and db["kms_key_id"]
    assert db["deletion_protection"] is True and db["skip_final_snapshot"] is False
    assert db["publicly_accessible"] is False
    assert db["manage_master_user_password"] is True and "password" not in db
    assert db["backup_retention_period"] == "${var.db_backup_retention_days}"
    assert db["multi_az"] == "${var.db_multi_az}"
    envs = _tfvars()
    assert set(envs) == {"production", "staging"}
    assert all(env["db_backup_retention_days"] >= 7 for env in envs.values())
    assert envs["production"]["db_multi_az"] is True
    preconditions = db["lifecycle"][0]["precondition"]
    assert any("var.db_multi_az" in p["condition"] for p in preconditions)


def test_buckets_are_versioned_encrypted_and_private():
    buckets = _resources("aws_s3_bucket")
    platform = buckets["platform"]
    assert "for_each" in platform
    names = set(hcl2_locals()["buckets"])
    assert names == {"landing", "artifacts", "compute-logs"}
    for kind, check in [
        ("aws_s3_bucket_versioning", lambda b: b["versioning_configuration"][0]["status"] == "Enabled"),
        (
            "aws_s3_bucket_server_side_encryption_configuration",
            lambda b: (
                b["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
                in ("aws:kms", "AES256")
            ),
        ),
        (
            "aws_s3_bucket_public_access_block",
            lambda b: all(
                b[k] is True
                for k in (
                    "block_public_acls",
                    "block_public_policy",
                    "ignore_public_acls",
                    "restrict_public_buckets",
                )
            ),
        ),
    ]:
        configured = _resources(kind)
        # One for_each resource over the platform buckets, one for the access-log bucket.
        assert set(configured) == {"platform", "access_logs"}, kind
        assert all(check(b) for b in configured.values()), kind
    sse = _resources("aws_s3_bucket_server_side_encryption_configuration")["platform"]
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"


def hcl2_locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for item in _terraform()["locals"]:
        merged.update(item)
    return merged


def test_irsa_roles_trust_one_service_account_each():
    trust = {
        name: body
        for item in _terraform()["data"]
        for kind, bodies in item.items()
        if kind == "aws_iam_policy_document"
        for name, body in bodies.items()
    }["irsa_trust"]
    condition_values = [c["values"] for c in trust["statement"][0]["condition"]]
    assert ["system:serviceaccount:${var.kubernetes_namespace}:${each.value}"] in condition_values
    assert set(_resources("aws_iam_role")) >= {"code", "dagster"}
    values = _values()
    assert values["serviceAccount"]["name"] == hcl2_locals()["dagster_service_account"]
    assert (
        values["dagster-user-deployments"]["serviceAccount"]["name"] == hcl2_locals()["code_service_account"]
    )


SECRET_NAME = re.compile(r"(password|secret|token|access_key|private_key|api_key)", re.I)


def _literal_secrets(node: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if SECRET_NAME.search(str(key)) and isinstance(value, str) and not value.startswith("${"):
                found.append(f"{here} = {value!r}")
            found.extend(_literal_secrets(value, here))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_literal_secrets(value, f"{path}[{i}]"))
    return found


def test_no_literal_secrets_in_terraform_or_values():
    found = []
    for path in [*TERRAFORM.glob("*.tf"), *(TERRAFORM / "environments").glob("*.tfvars")]:
        found += [f"{path.name}: {f}" for f in _literal_secrets(_load_hcl(path))]
    for path in [HELM / "values.yaml", *K8S.glob("*.yaml")]:
        for doc in yaml.safe_load_all(path.read_text()):
            found += [f"{path.name}: {f}" for f in _literal_secrets(doc)]
    # Allowed: names OF secrets (references), never values.
    found = [f for f in found if not re.search(r"(SecretName|secretKeyRef|_secret_arn|secret_kms_key_id)", f)]
    assert not found, "\n".join(found)
    assert _literal_secrets({"db_password": "hunter2"}) != [], "the secret scan must catch a literal"


# --- Image ---------------------------------------------------------------------------------------------


def test_dockerfile_builds_the_code_location_as_the_makefile_does():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) == 2, "multi-stage: builder, runtime"
    assert re.search(r"^USER \$\{KAIROO_UID\}$", dockerfile, re.M) and "ARG KAIROO_UID=10001" in dockerfile
    assert "-r pyproject.toml -c requirements.lock" in dockerfile and "uv==0.13.8" in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    dbt_file = re.search(r"prepare-and-package --file (\S+)", makefile).group(1)
    assert f"prepare-and-package --file {dbt_file}" in dockerfile
    assert "uv==0.13.8" in makefile
    # Every package the code location imports is copied into the image.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = set(pyproject["tool"]["importlinter"]["root_packages"]) - {"scripts"}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.M))
    assert packages | {"dbt_project"} <= copied, packages - copied
    # ... and let into the build context, which admits nothing else (deploy/Dockerfile.dockerignore).
    allowed = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert allowed[allowed.index("**")] == "**"
    assert all(f"!{name}/**" in allowed for name in copied), copied
    module = pyproject["tool"]["dagster"]["module_name"]
    assert f'"-m", "{module}"' in dockerfile
    assert yaml.safe_load((HELM / "values.yaml").read_text())["dagster-user-deployments"]["deployments"][0][
        "codeServerArgs"
    ] == ["-m", module]
    assert not re.search(r"^(ENV|ARG) .*(PASSWORD|SECRET|TOKEN|PII_KEY|DATABASE_URL)", dockerfile, re.M)


def test_make_image_skips_with_a_reason_without_an_engine():
    from deploy.image import docker_engine

    available, reason = docker_engine()
    if available:
        pytest.skip(f"a Docker engine answers here ({reason}): the image is built, not skipped")
    done = subprocess.run(
        ["make", "--no-print-directory", "image"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "make image: skipped: " in done.stdout and reason in done.stdout


# --- The production executor and per-step sizes ------------------------------------------------------


def test_k8s_executor_and_step_sizes_as_dagster_k8s_reads_them():
    from dagster._config import validate_config
    from dagster_k8s import k8s_job_executor
    from dagster_k8s.job import get_user_defined_k8s_config

    from assets.ranking import candidates, ranker_challenger, recommendations
    from assets.signals import signals
    from assets.warehouse import pair_features, warehouse_models
    from core.settings import get_settings
    from runtime.k8s import STEP_SIZES, k8s_executor_config
    from runtime.resources import executor_for

    executor = executor_for(get_settings({"KAIROO_EXECUTOR": "k8s"}))
    assert executor.name == "k8s_job_executor"
    assert validate_config(k8s_job_executor.config_schema.config_type, k8s_executor_config()).success
    with pytest.raises(ValueError, match="KAIROO_EXECUTOR='kubernetes'"):
        executor_for(get_settings({"KAIROO_EXECUTOR": "kubernetes"}))

    steps = {
        "signals": signals,
        "warehouse_models": warehouse_models,
        "pair_features": pair_features,
        "candidates": candidates,
        "ranker_challenger": ranker_challenger,
        "recommendations": recommendations,
    }
    assert set(steps) == set(STEP_SIZES)
    for step, asset in steps.items():
        config = get_user_defined_k8s_config(asset.op.tags)
        size = STEP_SIZES[step]
        assert config.container_config["resources"]["requests"] == {"cpu": size.cpu, "memory": size.memory}
        assert bool(config.pod_spec_config.get("node_selector")) == size.heavy_pool, step
    # The heavy pool's taint (Terraform) is what the heavy steps tolerate.
    eks = next(item["eks"] for item in _terraform()["module"] if "eks" in item)
    taint = eks["eks_managed_node_groups"]["steps"]["taints"]["steps"]
    tolerations = get_user_defined_k8s_config(ranker_challenger.op.tags).pod_spec_config["tolerations"]
    assert tolerations == [
        {"key": taint["key"], "operator": "Equal", "value": taint["value"], "effect": "NoSchedule"}
    ]
