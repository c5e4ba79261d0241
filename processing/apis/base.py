"""What every researcher API of processing shares: the role check, the campaign and group
lookups, the ``detail`` body, boolean query parameters."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from rest_framework import serializers

from core import access
from explanations.models import Campaign
from processing import selectors
from processing.models import LabelGroup


class ResearcherApi(access.ResearcherApi):
    def campaign(self, slug: str) -> Campaign:
        return get_object_or_404(Campaign, slug=slug)

    def group(self, campaign: Campaign, group_id: int) -> LabelGroup:
        group = selectors.label_group_get(group_id=group_id, campaign=campaign)
        if group is None:
            raise Http404
        return group


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()


def query_bool(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.lower() in ("1", "true", "yes", "on")
