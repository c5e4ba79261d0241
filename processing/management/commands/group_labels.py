"""group_labels FILE --class NAME [--mode threshold|paper] --json OUT: group any label list."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from processing.nlp.pipeline import group_label_list
from processing.services.common import grouping_settings_get


def _lines(all_lines: list[str], numbered: list[tuple[int, str]], report) -> list[dict]:
    """Every input line (1-based file line numbers) with its group index into ``groups``, or
    its refusal (blank lines: ``empty``)."""
    from processing.nlp.clean import REASON_MESSAGES

    messages = {r.index: r.message for r in report.refused}
    out: list[dict] = [
        {"line": n, "text": line, "refused": "empty", "message": REASON_MESSAGES.get("empty", "")}
        for n, line in enumerate(all_lines, start=1)
    ]
    for i, ((n, line), label) in enumerate(zip(numbered, report.labels)):
        if label.refused_reason is not None:
            out[n - 1] = {
                "line": n,
                "text": line,
                "refused": label.refused_reason,
                "message": messages.get(i, ""),
            }
        else:
            out[n - 1] = {"line": n, "text": line, "key": label.key, "group": label.group}
    return out


class Command(BaseCommand):
    help = (
        "Group a list of labels (one per line) as the labels of one guessed class would be "
        "grouped, and write the groups with their canonical labels and members, the refused "
        "inputs with their reasons, and every input line with its group index or refusal "
        '("lines"), as JSON.'
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="UTF-8 text file, one label per line ('-': stdin).")
        parser.add_argument("--class", dest="class_name", required=True, help="Class name.")
        parser.add_argument("--alias", action="append", default=[], help="Alias (repeatable).")
        parser.add_argument("--mode", choices=["threshold", "paper"], default=None)
        parser.add_argument("--threshold", type=float, default=None)
        parser.add_argument("--json", dest="json_out", required=True, help="Output file.")
        parser.add_argument(
            "--model",
            default=None,
            help="minilm (default), mpnet, or a sentence-transformers folder.",
        )

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
        all_lines = text.splitlines()
        numbered = [(n, line) for n, line in enumerate(all_lines, start=1) if line.strip()]
        lines = [line for _, line in numbered]
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
        data["lines"] = _lines(all_lines, numbered, report)
        data["timings"] = {k: round(v, 3) for k, v in report.timings.items()}
        out = Path(opts["json_out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self.stdout.write(
            f"{len(lines)} labels: {data['n_used']} used in {data['n_groups']} groups, "
            f"{len(data['refused'])} refused -> {out}"
        )
