"""Platform plumbing shared by every stage: settings, the warehouse connection, publication.

Plain Python: nothing here imports dagster, so ingestion, ml and quality can use it directly.
"""
