"""Continuous intelligence: drift, bias, anomalies, ranking quality and the night's gates.

Never imports dagster (assets/monitoring.py adapts it). Evidently and fairlearn are imported inside the
functions that use them. Every result is a row in the `monitoring` schema (monitoring/ddl.sql).
"""
