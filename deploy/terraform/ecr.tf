# The code-location image (deploy/Dockerfile). Tags are immutable and the release pins the digest
# (deploy/release.py), so what runs is exactly what CI built and scanned.
resource "aws_ecr_repository" "code" {
  name                 = "${local.name}/kairoo-platform"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.platform.arn
  }
}

resource "aws_ecr_lifecycle_policy" "code" {
  repository = aws_ecr_repository.code.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the 50 most recent images (rollbacks reach back weeks of nightly deploys)"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 50 }
      action       = { type = "expire" }
    }]
  })
}
