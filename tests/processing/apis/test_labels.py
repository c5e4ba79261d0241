"""Researcher API of label processing (processing/apis/labels.py): permissions, groups with
their provenance, curation, processing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from core.roles import RESEARCHER_GROUP
from processing.models import CurationRule, LabelGroup
from tests.processing.support import api_client

pytestmark = pytest.mark.django_db


def base(campaign) -> str:
    return f"/api/processing/campaigns/{campaign.slug}/"


def test_only_researchers_and_staff_may_read(played):
    url = base(played) + "label-groups/"
    assert api_client().get(url).status_code == 403
    player_user = User.objects.create_user("pat", password="pw")
    assert api_client(player_user).get(url).status_code == 403
    staff = User.objects.create_user("sam", password="pw", is_staff=True)
    assert api_client(staff).get(url).status_code == 200
    rita = User.objects.create_user("rita", password="pw")
    rita.groups.add(Group.objects.get(name=RESEARCHER_GROUP))
    assert api_client(rita).get(url).status_code == 200
    assert api_client().post(base(played) + "process/").status_code == 403


def test_groups_list_and_detail_with_provenance(played, researcher_api, players):
    groups = researcher_api.get(base(played) + "label-groups/").json()
    by_label = {g["label"]: g for g in groups}
    assert by_label["ears"]["count"] == 2
    assert by_label["ears"]["members"] == [{"key": "ear", "count": 2, "surfaces": {"ears": 2}}]
    assert researcher_api.get(base(played) + "label-groups/?q=lea").json()[0]["label"] == "leash"
    detail = researcher_api.get(base(played) + f"label-groups/{by_label['ears']['id']}/").json()
    assert sorted(m["raw"] for m in detail["mentions"]) == ["Ears", "ears"]
    assert {m["player"] for m in detail["mentions"]} == {players[0].pk, players[1].pk}
    assert all(m["guessed_class"] == "English springer" for m in detail["mentions"])
    refused = researcher_api.get(base(played) + "mentions/?refused=1").json()
    assert [(m["raw"], m["refused_reason"]) for m in refused] == [("<b>x</b>", "markup")]
    assert researcher_api.get(base(played) + "label-groups/999999/").status_code == 404
    state = researcher_api.get(base(played)).json()
    assert (state["n_mentions"], state["n_refused"], state["pending"]) == (5, 1, 0)


def test_curation_endpoints(played, researcher_api):
    ids = {g.label: g.pk for g in LabelGroup.objects.all()}
    url = base(played) + "label-groups/"
    resp = researcher_api.post(url + f"{ids['ears']}/rename/", {"name": "lop ears"}, format="json")
    assert resp.status_code == 200 and resp.json()["label"] == "lop ears"
    resp = researcher_api.post(
        url + "merge/", {"group_ids": [ids["collar"], ids["leash"]], "name": "gear"}, format="json"
    )
    assert resp.status_code == 200 and {m["key"] for m in resp.json()["members"]} == {
        "collar",
        "leash",
    }
    gear = resp.json()["id"]
    resp = researcher_api.post(url + f"{gear}/split/", {"keys": ["leash"]}, format="json")
    assert resp.status_code == 200 and resp.json()["label"] == "leash"
    resp = researcher_api.post(url + f"{ids['nose']}/block/", {"blocked": True}, format="json")
    assert resp.json()["blocked"] is True
    bad = researcher_api.post(url + f"{ids['nose']}/rename/", {"name": " "}, format="json")
    assert bad.status_code == 400
    bad = researcher_api.post(url + f"{ids['nose']}/split/", {"keys": ["zzz"]}, format="json")
    assert bad.status_code == 400 and "Not members" in bad.json()["detail"]
    rules = researcher_api.get(base(played) + "curation/").json()
    assert [r["action"] for r in rules] == ["rename", "merge", "split", "block"]
    assert CurationRule.objects.count() == 4


def test_process_endpoint_enqueues(
    played, researcher_api, sent_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        resp = researcher_api.post(base(played) + "process/", {"rebuild": True}, format="json")
    assert resp.status_code == 202
    assert [(t.name, t.args) for t in sent_tasks] == [
        ("processing.tasks.process_campaign", (played.pk, True))
    ]
    assert researcher_api.get(base(played)).json()["status"] == "queued"


def test_merging_ids_past_any_id_column_is_a_400(played):
    """Found by the API fuzz: a group id past 64 bits reached the database (500)."""
    staff = api_client(User.objects.create_user("sam", password="pw", is_staff=True))
    ids = [g.pk for g in LabelGroup.objects.all()[:2]]
    for bad in (-(2**120), 2**63, 0):
        resp = staff.post(
            base(played) + "label-groups/merge/", {"group_ids": [ids[0], bad]}, format="json"
        )
        assert resp.status_code == 400, (bad, resp.content)
