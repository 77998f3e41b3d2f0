"""Prefect flows: the runbooks, composed from ``tasks``."""

# The retraining runbook's name, which its deployments, alerts and the UI find its runs by. Here, not
# in flows.retrain, so that naming the flow (``retrain alerts setup``) does not import TensorFlow.
FLOW_NAME = "retrain"
