# Versions are pinned exactly: a plan today and a plan next month use the same providers and modules.
# `terraform init` also records provider checksums in .terraform.lock.hcl (networked CI step,
# deploy/README.md); commit that file from the first networked run.
terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }

  # State in S3 with locking; the bucket and table are created once per account, outside this root
  # (deploy/README.md, "First rollout"). Values come from `terraform init -backend-config=...`.
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
