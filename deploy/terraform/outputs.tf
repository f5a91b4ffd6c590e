# Read by deploy/release.py (`terraform output -json`) to write the release's environment overlay:
# keep the names in step with deploy/release.py's TERRAFORM_OUTPUTS (a test holds them equal).

output "region" {
  description = "AWS region (AWS_REGION of every pod)."
  value       = var.region
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = module.eks.cluster_name
}

output "db_host" {
  description = "RDS endpoint host: the warehouse, the Dagster instance and MLflow."
  value       = aws_db_instance.platform.address
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret RDS keeps the master password in (to create the roles once)."
  value       = aws_db_instance.platform.master_user_secret[0].secret_arn
}

output "landing_bucket" {
  description = "Bucket of KAIROO_LANDING_URL."
  value       = aws_s3_bucket.platform["landing"].id
}

output "artifacts_bucket" {
  description = "Bucket of KAIROO_MLFLOW_ARTIFACTS."
  value       = aws_s3_bucket.platform["artifacts"].id
}

output "compute_logs_bucket" {
  description = "Bucket of the S3ComputeLogManager."
  value       = aws_s3_bucket.platform["compute-logs"].id
}

output "code_role_arn" {
  description = "IRSA role of the kairoo-code service account."
  value       = aws_iam_role.code.arn
}

output "dagster_role_arn" {
  description = "IRSA role of the kairoo-dagster service account."
  value       = aws_iam_role.dagster.arn
}

output "image_repository" {
  description = "ECR repository of the code-location image (make image IMAGE_REPOSITORY=...)."
  value       = aws_ecr_repository.code.repository_url
}
