# Production: terraform plan -var-file=environments/production.tfvars (deploy/README.md).
# Sizes follow the L-tier projection in deploy/README.md ("Scale beyond one machine").
environment = "production"
name_prefix = "kairoo"
region      = "eu-west-1"

availability_zones   = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
vpc_cidr             = "10.40.0.0/16"
private_subnet_cidrs = ["10.40.0.0/19", "10.40.32.0/19", "10.40.64.0/19"]
public_subnet_cidrs  = ["10.40.96.0/22", "10.40.100.0/22", "10.40.104.0/22"]

kubernetes_version = "1.33"

system_node_instance_types = ["m7i.large"]
system_node_count          = { min = 2, desired = 2, max = 4 }
step_node_instance_types   = ["r7i.2xlarge"]
step_node_count            = { min = 0, desired = 0, max = 4 }

db_engine_version           = "16.6"
db_instance_class           = "db.r7g.2xlarge"
db_allocated_storage_gb     = 1000
db_max_allocated_storage_gb = 4000
db_multi_az                 = true
db_backup_retention_days    = 14
db_backup_window            = "04:30-05:30"
db_maintenance_window       = "sun:06:00-sun:07:00"

landing_expiration_days            = 400
compute_log_expiration_days        = 90
noncurrent_version_expiration_days = 30
log_retention_days                 = 365

kubernetes_namespace = "kairoo"
