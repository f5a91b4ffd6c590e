# Everything that differs between environments is a variable; environments/<env>.tfvars sets them.
# No variable carries a secret: the RDS master password is generated and kept by RDS in Secrets Manager
# (manage_master_user_password), application secrets are Kubernetes Secrets (deploy/README.md).

variable "environment" {
  description = "Environment name, part of every resource name: production or staging."
  type        = string
  validation {
    condition     = contains(["production", "staging"], var.environment)
    error_message = "environment must be production or staging."
  }
}

variable "name_prefix" {
  description = "Prefix of every name (S3 bucket names are global: make it unique to the organisation)."
  type        = string
}

variable "region" {
  description = "AWS region of the whole environment."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones used by the VPC, EKS nodes and RDS (at least two: multi-AZ)."
  type        = list(string)
  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "At least two availability zones: RDS multi-AZ and EKS need them."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
}

variable "private_subnet_cidrs" {
  description = "One private subnet per availability zone (EKS nodes, RDS)."
  type        = list(string)
}

variable "public_subnet_cidrs" {
  description = "One public subnet per availability zone (NAT gateways, load balancers only)."
  type        = list(string)
}

variable "kubernetes_version" {
  description = "EKS control plane version."
  type        = string
}

variable "cluster_endpoint_public_access_cidrs" {
  # Empty (the default): the API is private, reached from inside the VPC (the deploy runner, the
  # operators' VPN); set it only to open a public path.
  description = "CIDRs allowed to reach the EKS API over its public endpoint (empty: private only)."
  type        = list(string)
  default     = []
}

variable "system_node_instance_types" {
  description = "Instance types of the node group for the webserver, daemon, code server and run pods."
  type        = list(string)
}

variable "system_node_count" {
  description = "min, desired and max size of the system node group."
  type        = object({ min = number, desired = number, max = number })
}

variable "step_node_instance_types" {
  description = "Instance types for k8s_job_executor step pods (training, candidates, scoring)."
  type        = list(string)
}

variable "step_node_count" {
  description = "min, desired and max size of the step node group (scales to zero between nights)."
  type        = object({ min = number, desired = number, max = number })
}

variable "db_engine_version" {
  description = "PostgreSQL major.minor version of the RDS instance (the warehouse and the Dagster instance)."
  type        = string
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "db_allocated_storage_gb" {
  description = "Initial RDS storage in GB."
  type        = number
}

variable "db_max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling in GB."
  type        = number
}

variable "db_multi_az" {
  description = "Standby replica in a second AZ. Must be true in production (checked below)."
  type        = bool
}

variable "db_backup_retention_days" {
  description = "Automated backup retention (point-in-time restore window), 7 to 35 days."
  type        = number
  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "Backups are kept 7 to 35 days."
  }
}

variable "db_backup_window" {
  description = "Daily backup window (UTC), away from the night's 02:00 UTC run."
  type        = string
}

variable "db_maintenance_window" {
  description = "Weekly maintenance window (UTC)."
  type        = string
}

variable "landing_expiration_days" {
  description = "Days a landed signal file is kept in S3 after it arrived (it is loaded the same night)."
  type        = number
}

variable "compute_log_expiration_days" {
  description = "Days Dagster step logs are kept in S3."
  type        = number
}

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted object version is kept (recovery from mistakes)."
  type        = number
}

variable "kubernetes_namespace" {
  description = "Namespace of the Helm release (deploy/helm/release.yaml); IRSA trusts its service accounts."
  type        = string
}

variable "log_retention_days" {
  description = "CloudWatch retention of EKS control-plane and RDS logs."
  type        = number
}
