# Object storage: where signal files land, MLflow's artifacts (models, reports), and Dagster's step logs.
# Every bucket: versioned, encrypted with the platform key, public access blocked, TLS-only, access
# logged to the logs bucket, with lifecycle rules that bound what old versions cost.

locals {
  buckets = {
    landing = {
      purpose         = "Signal files delivered each night (KAIROO_LANDING_URL)"
      expiration_days = var.landing_expiration_days
    }
    artifacts = {
      purpose         = "MLflow artifacts: models, evaluation reports (KAIROO_MLFLOW_ARTIFACTS)"
      expiration_days = null
    }
    compute-logs = {
      purpose         = "Dagster step stdout/stderr (S3ComputeLogManager)"
      expiration_days = var.compute_log_expiration_days
    }
  }
}

resource "aws_s3_bucket" "platform" {
  # checkov:skip=CKV2_AWS_62:the nightly schedule reads the landing bucket; nothing consumes object events
  # checkov:skip=CKV_AWS_144:one region by design; versioning and RDS backups are the recovery path (README)
  for_each = local.buckets
  bucket   = "${local.name}-${each.key}"
  tags     = { purpose = each.value.purpose }
}

resource "aws_s3_bucket_versioning" "platform" {
  for_each = aws_s3_bucket.platform
  bucket   = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "platform" {
  for_each = aws_s3_bucket.platform
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.platform.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "platform" {
  for_each                = aws_s3_bucket.platform
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "platform" {
  for_each = aws_s3_bucket.platform
  bucket   = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "platform" {
  for_each      = aws_s3_bucket.platform
  bucket        = each.value.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${each.key}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "platform" {
  for_each = aws_s3_bucket.platform
  bucket   = each.value.id

  rule {
    id     = "bound-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    dynamic "expiration" {
      for_each = local.buckets[each.key].expiration_days == null ? [] : [local.buckets[each.key].expiration_days]
      content {
        days = expiration.value
      }
    }
  }
}

# TLS only: a request over plain HTTP is denied whoever makes it.
data "aws_iam_policy_document" "tls_only" {
  for_each = merge(aws_s3_bucket.platform, { access-logs = aws_s3_bucket.access_logs })
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "platform" {
  for_each = aws_s3_bucket.platform
  bucket   = each.value.id
  policy   = data.aws_iam_policy_document.tls_only[each.key].json
}

# Server access logs of the three buckets. S3 log delivery writes with SSE-S3 only (it cannot use a
# KMS key), and a log bucket does not log itself: both are documented checkov skips.
resource "aws_s3_bucket" "access_logs" {
  # checkov:skip=CKV_AWS_18:this is the access-log target; logging it into itself would loop
  # checkov:skip=CKV_AWS_145:S3 server access log delivery supports SSE-S3 only, not SSE-KMS
  # checkov:skip=CKV_AWS_144:access logs are not replicated; the data buckets' versions are the recovery path
  # checkov:skip=CKV2_AWS_62:nothing consumes events of the log bucket
  bucket = "${local.name}-access-logs"
  tags   = { purpose = "S3 server access logs of the platform buckets" }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = 365
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json
}

data "aws_iam_policy_document" "access_logs" {
  source_policy_documents = [data.aws_iam_policy_document.tls_only["access-logs"].json]
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}
