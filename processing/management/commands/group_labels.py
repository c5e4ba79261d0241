"""group_labels FILE --class NAME [--mode threshold|paper] --json OUT: group any label list."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from processing.nlp.pipeline import group_label_list
from processing.services import grouping_settings_get


class Command(BaseCommand):
    help = (
        "Group a list of labels (one per line) as the labels of one guessed class would be "
        "grouped, and write the groups with their canonical labels and members, and the "
        "refused inputs with their reasons, as JSON."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="UTF-8 text file, one label per line ('-': stdin).")
        parser.add_argument("--class", dest="class_name", required=True, help="Class name.")
        parser.add_argument("--alias", action="append", default=[], help="Alias (repeatable).")
        parser.add_argument("--mode", choices=["threshold", "paper"], default=None)
        parser.add_argument("--threshold", type=float, default=None)
        parser.add_argument("--json", dest="json_out", required=True, help="Output file.")
        parser.add_argument("--model", default=None, help="Local sentence-transformers folder.")

    def handle(self, *args, **opts) -> None:
        import sys

        from workers.runtime import embedder_get

        if opts["file"] == "-":
            text = sys.stdin.read()
        else:
            path = Path(opts["file"])
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
            text = path.read_text(encoding="utf-8-sig")
        lines = [line for line in text.splitlines() if line.strip()]
        gs = grouping_settings_get()
        overrides = {}
        if opts["mode"]:
            overrides["mode"] = opts["mode"]
        if opts["threshold"] is not None:
            overrides["threshold"] = opts["threshold"]
        if overrides:
            gs = type(gs)(**{**gs.as_dict(), **overrides})
        try:
            report = group_label_list(
                lines,
                class_name=opts["class_name"],
                aliases=opts["alias"],
                embedder=embedder_get(opts["model"]),
                settings=gs,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        data = report.to_dict()
        data["timings"] = {k: round(v, 3) for k, v in report.timings.items()}
        out = Path(opts["json_out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self.stdout.write(
            f"{len(lines)} labels: {data['n_used']} used in {data['n_groups']} groups, "
            f"{len(data['refused'])} refused -> {out}"
        )
