"""The one DRF exception handler: a validation error keeps its field errors and gains a
``detail`` that names them (the schema documents ``detail`` on every 4xx)."""

from __future__ import annotations

import pytest
from rest_framework import exceptions

from core.errors import ApplicationError
from core.exceptions import exception_handler, validation_detail
from tests.game.helpers import API, csrf_token, guest_client


def test_validation_detail_names_the_first_message_of_each_field():
    errors = {
        "name": ["This field is required.", "ignored"],
        "params": {"seed": ["Too big."]},
        "non_field_errors": ["Classes must differ."],
    }
    assert validation_detail(errors) == (
        "Invalid input: name: This field is required.; params.seed: Too big.; Classes must differ."
    )
    assert validation_detail({}) == "Invalid input."


def test_handler_adds_detail_and_keeps_the_fields():
    response = exception_handler(exceptions.ValidationError({"choice": ["Not a class."]}), {})
    assert response.status_code == 400
    assert response.data == {
        "detail": "Invalid input: choice: Not a class.",
        "choice": ["Not a class."],
    }
    response = exception_handler(ApplicationError("Gone.", status=410, extra={"code": "x"}), {})
    assert (response.status_code, response.data) == (410, {"detail": "Gone.", "code": "x"})
    response = exception_handler(exceptions.NotFound(), {})
    assert response.data == {"detail": "Not found."}


@pytest.mark.django_db
def test_a_bad_body_on_a_real_endpoint_has_a_detail_and_its_field_errors():
    client = guest_client("Detail")
    response = client.patch(
        API + "me/", {"nickname": ["a list"]}, format="json", HTTP_X_CSRFTOKEN=csrf_token(client)
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith("Invalid input: nickname: ")
    assert isinstance(body["nickname"], list)  # clients that read the field errors still can
