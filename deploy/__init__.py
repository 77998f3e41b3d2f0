"""Running retraining from Prefect: the deployment, its typed run form, the flow it runs, the alerts.

``deploy.deployments`` (weekly cron schedule, one run at a time; ``retrain serve``),
``deploy.flow`` (the deployment's flow; its run form is ``data.settings.RunOptions``), ``deploy.alerts``
(automations and email; ``retrain alerts setup``). ``prefect.yaml`` declares the same deployment
for a work pool. Nothing below ``deploy`` imports it.
"""
