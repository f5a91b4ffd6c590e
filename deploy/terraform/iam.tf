# IAM roles for service accounts (IRSA): each role trusts exactly one Kubernetes service account of the
# release, and grants only the buckets and key it needs. No access key exists anywhere.

data "aws_iam_policy_document" "irsa_trust" {
  for_each = {
    code    = local.code_service_account
    dagster = local.dagster_service_account
  }
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [module.eks.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:sub"
      values   = ["system:serviceaccount:${var.kubernetes_namespace}:${each.value}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

# kairoo-code: the code server, run pods and step pods. Reads and archives landing files, writes MLflow
# artifacts and step logs.
resource "aws_iam_role" "code" {
  name               = "${local.name}-code"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust["code"].json
}

data "aws_iam_policy_document" "code" {
  statement {
    sid     = "ListPlatformBuckets"
    actions = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [
      aws_s3_bucket.platform["landing"].arn,
      aws_s3_bucket.platform["artifacts"].arn,
      aws_s3_bucket.platform["compute-logs"].arn,
    ]
  }
  statement {
    sid     = "ReadWriteObjects"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [
      "${aws_s3_bucket.platform["landing"].arn}/*",
      "${aws_s3_bucket.platform["artifacts"].arn}/*",
      "${aws_s3_bucket.platform["compute-logs"].arn}/*",
    ]
  }
  statement {
    sid       = "UsePlatformKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.platform.arn]
  }
}

resource "aws_iam_role_policy" "code" {
  name   = "platform-data"
  role   = aws_iam_role.code.id
  policy = data.aws_iam_policy_document.code.json
}

# kairoo-dagster: the webserver and the daemon. They only read and write step logs.
resource "aws_iam_role" "dagster" {
  name               = "${local.name}-dagster"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust["dagster"].json
}

data "aws_iam_policy_document" "dagster" {
  statement {
    sid       = "ListComputeLogs"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.platform["compute-logs"].arn]
  }
  statement {
    sid       = "ReadWriteComputeLogs"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.platform["compute-logs"].arn}/*"]
  }
  statement {
    sid       = "UsePlatformKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.platform.arn]
  }
}

resource "aws_iam_role_policy" "dagster" {
  name   = "compute-logs"
  role   = aws_iam_role.dagster.id
  policy = data.aws_iam_policy_document.dagster.json
}
