locals {
  name = "${var.name_prefix}-${var.environment}"
  tags = {
    project     = "kairoo-platform"
    environment = var.environment
    managed_by  = "terraform"
  }
  # Service accounts of the Helm release (deploy/helm/values.yaml): the code location and every run and
  # step pod use kairoo-code; the webserver and daemon use kairoo-dagster.
  code_service_account    = "kairoo-code"
  dagster_service_account = "kairoo-dagster"
}

data "aws_caller_identity" "current" {}

# One customer-managed key encrypts RDS storage, Performance Insights, the S3 buckets, EKS secrets, ECR
# and CloudWatch logs of this environment; rotated yearly.
resource "aws_kms_key" "platform" {
  description             = "${local.name}: RDS, S3, EKS secrets, ECR, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "platform" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.platform.key_id
}

data "aws_iam_policy_document" "kms" {
  # A key policy's "*" resource is the key itself, and kms:* for the account root is AWS's default key
  # policy (IAM policies then decide who may use it); these checks read it as an identity policy.
  # checkov:skip=CKV_AWS_111:key policy; resource "*" means this key only
  # checkov:skip=CKV_AWS_356:key policy; resource "*" means this key only
  # checkov:skip=CKV_AWS_109:key policy; the account root administers its own key (AWS default)
  # The account administers the key; services use it through their own grants and IAM policies.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  # CloudWatch Logs encrypts the EKS and RDS log groups with this key.
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
  }
}

module "vpc" {
  # checkov:skip=CKV_TF_1:registry module pinned to an exact version; .terraform.lock.hcl pins providers
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.21.0"

  name            = local.name
  cidr            = var.vpc_cidr
  azs             = var.availability_zones
  private_subnets = var.private_subnet_cidrs
  public_subnets  = var.public_subnet_cidrs

  # One NAT gateway per AZ in production (an AZ outage does not cut the night off from S3 and ECR).
  enable_nat_gateway     = true
  single_nat_gateway     = var.environment != "production"
  one_nat_gateway_per_az = var.environment == "production"
  enable_dns_hostnames   = true

  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_cloudwatch_log_group_retention_in_days = var.log_retention_days
  flow_log_cloudwatch_log_group_kms_key_id        = aws_kms_key.platform.arn

  public_subnet_tags  = { "kubernetes.io/role/elb" = 1 }
  private_subnet_tags = { "kubernetes.io/role/internal-elb" = 1 }
}

module "eks" {
  # checkov:skip=CKV_TF_1:registry module pinned to an exact version; .terraform.lock.hcl pins providers
  source  = "terraform-aws-modules/eks/aws"
  version = "20.37.1"

  cluster_name    = local.name
  cluster_version = var.kubernetes_version

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnets

  cluster_endpoint_private_access      = true
  cluster_endpoint_public_access       = length(var.cluster_endpoint_public_access_cidrs) > 0
  cluster_endpoint_public_access_cidrs = var.cluster_endpoint_public_access_cidrs

  # Kubernetes Secrets (the platform's credentials) are envelope-encrypted with the platform key.
  create_kms_key = false
  cluster_encryption_config = {
    provider_key_arn = aws_kms_key.platform.arn
    resources        = ["secrets"]
  }

  cluster_enabled_log_types              = ["api", "audit", "authenticator"]
  cloudwatch_log_group_retention_in_days = var.log_retention_days
  cloudwatch_log_group_kms_key_id        = aws_kms_key.platform.arn

  # IRSA: the OIDC provider lets the roles in iam.tf trust exactly one service account each.
  enable_irsa = true

  enable_cluster_creator_admin_permissions = true

  eks_managed_node_groups = {
    # Webserver, daemon, code server and run pods (the run pod only coordinates its step pods).
    system = {
      instance_types = var.system_node_instance_types
      min_size       = var.system_node_count.min
      desired_size   = var.system_node_count.desired
      max_size       = var.system_node_count.max
      labels         = { "kairoo.io/pool" = "system" }
    }
    # k8s_job_executor step pods: the heavy steps' dagster-k8s/config tags (runtime/k8s.py) select this
    # pool and tolerate its taint, so the night's memory never competes with the webserver.
    steps = {
      instance_types = var.step_node_instance_types
      min_size       = var.step_node_count.min
      desired_size   = var.step_node_count.desired
      max_size       = var.step_node_count.max
      labels         = { "kairoo.io/pool" = "steps" }
      taints = {
        steps = { key = "kairoo.io/pool", value = "steps", effect = "NO_SCHEDULE" }
      }
    }
  }
}
