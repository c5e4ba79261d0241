"""Validation sections of the campaign export: :data:`SECTIONS`, which ``ValidationConfig.ready``
adds to ``processing.export`` (processing never imports the validation app).

Every finished run of the campaign is exported; each row names its run (see the ``run`` column)
and whether its human metric came from simulated rounds.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from explanations.models import Campaign
from processing.export import Section

from .models import ClusterFaithfulness, HumanMetric, LayerSummary, TcavScore, ValidationRun
from .selectors import FAITHFULNESS_FIELDS, HUMAN_FIELDS, LAYER_FIELDS, TCAV_FIELDS

RENAMES = {"run_id": "run", "image_id": "image", "cluster_id": "cluster"}


def _columns(fields: tuple[str, ...]) -> tuple[str, ...]:
    return ("run", *(RENAMES.get(f, f) for f in fields))


TCAV_COLUMNS = _columns(TCAV_FIELDS)
FAITHFULNESS_COLUMNS = _columns(FAITHFULNESS_FIELDS)
HUMAN_COLUMNS = _columns(HUMAN_FIELDS)
LAYER_COLUMNS = _columns(LAYER_FIELDS)


def _qs(model, campaign: Campaign) -> QuerySet:
    return model.objects.filter(
        run__campaign=campaign, run__status=ValidationRun.Status.DONE
    ).order_by("run_id", "id")


def _rows(model, campaign: Campaign, fields: tuple[str, ...]) -> Iterator[dict]:
    for row in _qs(model, campaign).values("run_id", *fields).iterator(chunk_size=2000):
        yield {RENAMES.get(k, k): v for k, v in row.items()}


def tcav_rows(campaign: Campaign) -> Iterator[dict]:
    return _rows(TcavScore, campaign, TCAV_FIELDS)


def faithfulness_rows(campaign: Campaign) -> Iterator[dict]:
    return _rows(ClusterFaithfulness, campaign, FAITHFULNESS_FIELDS)


def human_rows(campaign: Campaign) -> Iterator[dict]:
    return _rows(HumanMetric, campaign, HUMAN_FIELDS)


def layer_rows(campaign: Campaign) -> Iterator[dict]:
    return _rows(LayerSummary, campaign, LAYER_FIELDS)


def tcav_count(campaign: Campaign) -> int:
    return _qs(TcavScore, campaign).count()


def faithfulness_count(campaign: Campaign) -> int:
    return _qs(ClusterFaithfulness, campaign).count()


def human_count(campaign: Campaign) -> int:
    return _qs(HumanMetric, campaign).count()


def layer_count(campaign: Campaign) -> int:
    return _qs(LayerSummary, campaign).count()


# every finished run, each row naming its run (METHOD §10)
SECTIONS = (
    Section("validation_tcav", tcav_rows, tcav_count, TCAV_COLUMNS),
    Section("validation_faithfulness", faithfulness_rows, faithfulness_count, FAITHFULNESS_COLUMNS),
    Section("validation_human", human_rows, human_count, HUMAN_COLUMNS),
    Section("validation_layers", layer_rows, layer_count, LAYER_COLUMNS),
)
