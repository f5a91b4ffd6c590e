# Staging: the same code at tier M, one AZ's worth of standby cost saved.
environment = "staging"
name_prefix = "kairoo"
region      = "eu-west-1"

availability_zones   = ["eu-west-1a", "eu-west-1b"]
vpc_cidr             = "10.41.0.0/16"
private_subnet_cidrs = ["10.41.0.0/19", "10.41.32.0/19"]
public_subnet_cidrs  = ["10.41.96.0/22", "10.41.100.0/22"]

kubernetes_version = "1.33"

system_node_instance_types = ["m7i.large"]
system_node_count          = { min = 1, desired = 2, max = 3 }
step_node_instance_types   = ["r7i.xlarge"]
step_node_count            = { min = 0, desired = 0, max = 2 }

db_engine_version           = "16.6"
db_instance_class           = "db.r7g.large"
db_allocated_storage_gb     = 200
db_max_allocated_storage_gb = 1000
db_multi_az                 = false
db_backup_retention_days    = 7
db_backup_window            = "04:30-05:30"
db_maintenance_window       = "sun:06:00-sun:07:00"

landing_expiration_days            = 90
compute_log_expiration_days        = 30
noncurrent_version_expiration_days = 14
log_retention_days                 = 90

kubernetes_namespace = "kairoo"
