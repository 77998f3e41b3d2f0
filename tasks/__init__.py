"""Prefect tasks: thin, named steps around the plain functions of the layers below.

Each task's plain function is reachable as ``task.fn`` for tests without Prefect.
"""
