"""The commands on the model versions: ``retrain status``, ``history``, ``rollback``, ``predict``, ``export``
and ``behave``."""

from __future__ import annotations

import argparse
import getpass
import sys

from data.ledger import counts_by_version
from data.pull import waiting_counts
from data.quarantine_table import quarantined_ids
from models import registry
from models.behaviour import load_suite, lost_cases, run_suite
from models.slices import SLICE_KINDS, slices_from_dict
from retrain.api import load_champion, load_version
from retrain.cli_database import existing_engine, load_settings
from retrain.predict import open_output, score_csv, score_texts


def describe_reads(version) -> str:
    """How much of a text a model version reads (chosen from its first data, kept by its descendants)."""
    return (f"sequence length {version.sequence_length} tokens (the first {version.sequence_length} "
            "WordPiece tokens of a longer text are what the model reads)")


def cmd_status(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = existing_engine(settings)
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
    print(f"labels {list(current.labels)}; {describe_reads(current)}")
    print(f"watermark: labeled_at {current.watermark.labeled_at}, id {current.watermark.id}")
    print(f"rows waiting for the next run: {waiting.total} ({waiting.past} past the watermark, {waiting.behind} "
          "behind it: late or edited rows, released rows, rows of rolled-back or rejected versions, early-stopping "
          "rows of the last run)")
    print(held)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = existing_engine(settings)
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
            if sample := (v.metrics or {}).get("evaluation_sample"):  # recorded since the sample was sized
                print(f"       evaluation sample: {sample['reason']}")
            for line in _quality_lines(v.metrics or {}):
                print(f"       {line}")
    promotions = registry.promotion_history(engine)
    print(f"\npromotions ({len(promotions)}), * marks the champion:")
    for p in promotions:
        print(f"  {p.at:%Y-%m-%d %H:%M:%S} {p.from_version or '-'} -> {p.to_version} by {p.actor}: {p.reason}")
    return 0


def _quality_lines(metrics: dict) -> list[str]:
    """Per-slice accuracy and behaviour pass rates a version's metrics recorded (none before they were)."""
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
        lost = lost_cases(behaviour["regressions"], behaviour.get("margin", 0.0), behaviour.get("near_misses", 0),
                          behaviour.get("fixes", 0))
        lines.append(f"behaviour regressions: {lost}")
    return lines


def cmd_behave(args: argparse.Namespace) -> int:
    from models.serving import open_for_scoring, probabilities_of  # lazy: imports TensorFlow and Keras (about 5 s)

    settings = load_settings()
    path = args.suite or settings.behaviour_suite
    if path is None:
        print("no behaviour suite: give SUITE.yaml or set RETRAIN_BEHAVIOUR_SUITE", file=sys.stderr)
        return 1
    current = registry.champion(existing_engine(settings))  # read-only: never creates a database
    if current is None:
        print("no champion yet: run `retrain run` first", file=sys.stderr)
        return 1
    suite = load_suite(path, current.labels, settings.seed)
    model = open_for_scoring(settings, current)
    result = run_suite(suite, lambda texts: probabilities_of(model, texts, settings.eval_batch_size), model.labels)
    print(f"champion v{current.version} on {path}: {sum(result.passed)}/{len(result.passed)} cases pass")
    for test in result.tests:
        print(f"  {test.name:<40} {test.kind:<4} {test.passed:>4}/{test.cases:<4} {test.pass_rate:>5.0%}")
    if args.show_failures:
        failed = [case for case, ok in zip(suite.cases, result.passed, strict=True) if not ok]
        for case in failed[:args.show_failures]:
            print(f"  FAIL {case.test}: {' | '.join(case.texts)[:150]!r}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    engine = existing_engine(load_settings())
    actor = args.by or f"{getpass.getuser()} (cli)"
    promotion = registry.rollback(engine, actor=actor, reason=args.reason, to_version=args.version)
    print(f"champion rolled back from version {promotion.from_version} to {promotion.to_version} "
          f"by {promotion.actor}: {promotion.reason}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if bool(args.texts) == bool(args.file):
        raise SystemExit("retrain predict: give texts or --file FILE.csv (not both)")
    settings = load_settings()
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
    from models.export import export_saved_model  # lazy: imports TensorFlow (about 8 s)

    model = load_version(args.version, load_settings())
    folder = export_saved_model(model.classifier, args.folder, version=model.version)
    print(f"version {model.version} written to {folder} as a TensorFlow SavedModel (labels {list(model.labels)}, "
          f"sequence length {model.sequence_length}). Use it with tensorflow and tensorflow_text only:\n"
          f"  import tensorflow as tf, tensorflow_text\n"
          f"  serve = tf.saved_model.load({str(folder)!r}).signatures['serving_default']\n"
          f"  serve(text=tf.constant(['some text']))  # {{'probabilities': ..., 'label': ...}}")
    return 0
