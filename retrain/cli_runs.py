"""The commands that run the flow or talk to Prefect: ``retrain run``, ``demo``, ``serve`` and ``alerts``.

Prefect is imported only inside the commands that talk to a server: importing it sets up its logging
from the environment, which ``retrain demo`` changes first (and it takes 2-3 s).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from typing import TYPE_CHECKING

from deploy.deployments import serve
from deploy.temporary_server import exit_on_sigterm, temporary_prefect_server
from models import registry
from retrain.cli_database import load_settings, writable_engine
from retrain.cli_models import describe_reads
from retrain.cli_run_flags import run_options
from retrain.demo import DemoOptions, run_demo
from validation import DataCheckFailed

if TYPE_CHECKING:
    from data.settings import RunOptions
    from tasks.report import RunReport


def _import_the_flow() -> None:
    importlib.import_module("flows.retrain")  # TensorFlow, Keras, KerasHub and GX: about 5 s


def run_flow(options: RunOptions, triggered_by: str = "cli") -> RunReport:
    """One run of the flow, as ``retrain run`` runs it: on the configured Prefect server or a temporary
    one, which starts while the flow's modules are imported."""
    with temporary_prefect_server(meanwhile=_import_the_flow):  # none is left behind, however the run ends
        from flows.retrain import retrain  # imported while the server started

        return retrain(options, triggered_by=triggered_by)


def cmd_run(args: argparse.Namespace) -> int:
    options = run_options(args)  # a value out of bounds is refused here, before any server starts
    exit_on_sigterm()
    try:
        report = run_flow(options)
    except DataCheckFailed as failed:
        print(f"data checks failed; nothing was trained and the champion is unchanged:\n{failed}",
              file=sys.stderr)
        return 2
    champion = "-" if report.champion_accuracy is None else f"{report.champion_accuracy:.4f}"
    tfidf = "" if report.tfidf_accuracy is None else f" (TF-IDF + LR {report.tfidf_accuracy:.4f})"
    print(f"pulled {report.rows_pulled} rows, checks {report.checks_passed}/{report.checks_total}, "
          f"held-out {report.held_out_rows} rows: champion {champion}, "
          f"challenger v{report.challenger_version} {report.challenger_accuracy:.4f}{tfidf} -> "
          f"{report.decision} ({report.reason})")
    challenger = registry.get_version(writable_engine(load_settings()), report.challenger_version)
    print(f"challenger v{challenger.version}: labels {list(challenger.labels)}, {describe_reads(challenger)}")
    return 0


def _require_prefect_server() -> str:
    """The Prefect API these commands talk to; refuse the throwaway one Prefect starts when none is set."""
    from prefect.settings import PREFECT_API_URL  # lazy: see the module's docstring

    url = PREFECT_API_URL.value()
    if not url:
        raise SystemExit("retrain: no Prefect server configured: start one (`prefect server start`) and run "
                         "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api` (see README)")
    return url


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings().with_overrides(schedule_cron=args.cron, schedule_timezone=args.timezone,
                                              deployment_name=args.name, on_overlap=args.on_overlap)
    url = _require_prefect_server()
    print(f"serving deployment retrain/{settings.deployment_name} to {url}: cron {settings.schedule_cron!r} "
          f"({settings.schedule_timezone}), one run at a time (a run triggered meanwhile "
          f"{'is cancelled' if settings.on_overlap == 'cancel' else 'waits'}); Ctrl-C stops serving")
    serve(settings)
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from deploy.alerts import send_test_notification, setup_alerts  # lazy: imports Prefect (module docstring)

    settings = load_settings()
    _require_prefect_server()
    channel = "slack" if args.slack else "webhook" if args.webhook else "block"
    result = setup_alerts(settings, channel, args.block)
    print(f"notification block {result.block}")
    for name, done in result.automations.items():
        print(f"automation {name!r}: {done}")
    if settings.alert_email_to:
        print(f"email: failed or crashed deployment runs also email {', '.join(settings.alert_email_to)} "
              f"through {settings.smtp_host or '(RETRAIN_SMTP_HOST is not set!)'}")
    if args.send_test:
        send_test_notification(result.block)
        print("sent a test notification")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    exit_on_sigterm()
    if not args.verbose:  # before the temporary server fixes Prefect's settings for the demo's runs
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    with temporary_prefect_server(meanwhile=_import_the_flow):
        run_demo(DemoOptions(workdir=args.workdir, weeks=args.weeks, initial_rows=args.initial_rows,
                             rows_per_week=args.rows_per_week, keep_neutral=args.keep_neutral,
                             epochs=args.epochs, verbose=args.verbose))
    print(f"demo finished in {time.perf_counter() - started:.0f} s")
    return 0
