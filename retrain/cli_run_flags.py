"""The flags of ``retrain run``: one per field of ``RunOptions``, so a knob added to ``RUN_KNOBS`` is a flag too.

``batch_size`` is ``--batch-size``, typed by the field (a bool is a switch) and described by its
description; the bounds are checked when the flags become ``RunOptions``.
"""

from __future__ import annotations

import argparse

from data.settings import RunOptions


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """Add a flag for every field of ``RunOptions``; one left out is None (the run keeps that setting)."""
    for name, field in RunOptions.model_fields.items():
        flag = "--" + name.replace("_", "-")
        described = (field.description or "").replace("%", "%%")  # argparse formats help with %
        if field.annotation is bool:
            parser.add_argument(flag, dest=name, action="store_true", default=None, help=described)
        else:
            parser.add_argument(flag, dest=name, type=field.annotation, help=described)


def run_options(args: argparse.Namespace) -> RunOptions:
    """The options the flags gave; a value out of bounds raises pydantic's ``ValidationError``."""
    return RunOptions(**{name: value for name in RunOptions.model_fields if (value := getattr(args, name)) is not None})
