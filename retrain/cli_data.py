"""The commands on the labeled rows: ``retrain init``, ``retrain import`` and ``retrain quarantine``."""

from __future__ import annotations

import argparse
import getpass
import sys

from data.importing import import_csv
from data.labels import fix_labels, fixed_labels, labels_given
from models import registry
from retrain.cli_database import existing_engine, load_settings, writable_engine
from validation import quarantine


def cmd_init(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = writable_engine(settings)
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
    settings = load_settings()
    engine = writable_engine(settings)
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


def cmd_quarantine(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = existing_engine(settings)
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
