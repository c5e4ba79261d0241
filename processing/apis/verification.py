"""APIs of the human verification of synonym groups (issue 12).

Players (``/api/game/``): ``GET rounds/<token>/verification/`` offers the optional bonus question
after a finished round, ``POST verification/<id>/`` answers it. Researchers
(``/api/processing/``): ``GET campaigns/<slug>/suggestions/`` lists ranked merge / split
suggestions of the current groups.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ApplicationError
from game.apis import ERRORS, GameApi
from game.throttles import GameAddressThrottle, address_network
from processing import selectors
from processing.embeddings import EmbeddingMissing
from processing.services import verification, verification_counts
from processing.services.common import embed_templated, embedder_stored, grouping_settings_get

from .base import ResearcherApi


class VerificationQuestionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    yours = serializers.CharField(
        allow_null=True,
        help_text="Your characteristic, as you typed it (null: both texts are other players').",
    )
    theirs = serializers.CharField(help_text="Another player's text.")
    texts = serializers.ListField(
        child=serializers.CharField(), help_text="The two texts asked about, in prompt order."
    )
    prompt = serializers.CharField()
    points = serializers.IntegerField(help_text="Bonus when you agree with the majority.")


class VerificationQuestionApi(GameApi):
    @extend_schema(
        operation_id="game_round_verification",
        responses={200: VerificationQuestionOutput, 204: None, **ERRORS},
        description="The optional bonus question after a finished round: do two labels of the "
        "class (one of them yours when you wrote one) name the same thing? 204 when there is "
        "nothing to ask (yet).",
    )
    def get(self, request: Request, token: str) -> Response:
        offered = verification.verification_question_next(player=self.player(request), token=token)
        if offered is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            {
                "id": offered.question.pk,
                "yours": offered.yours,
                "theirs": offered.theirs,
                "texts": list(offered.texts),
                "prompt": offered.prompt,
                "points": verification_counts.verification_points(),
            }
        )


class VerificationAnswerApi(GameApi):
    class Input(serializers.Serializer):
        class Meta:
            ref_name = "GameVerificationAnswerInput"

        same = serializers.BooleanField()

    class Output(serializers.Serializer):
        same = serializers.BooleanField()
        awarded = serializers.BooleanField(
            help_text="Judged: the answers decide the question and two players agree with it."
        )
        points = serializers.IntegerField()
        answers = serializers.IntegerField(help_text="Answers the question has so far.")

    @extend_schema(
        operation_id="game_verification_answer",
        request=Input,
        responses={200: Output, **ERRORS},
        description="Answer a bonus question you were offered (once; 404 for a question not "
        "offered to you, 403 when your account is blocked). Points go to the answers that agree "
        "with the verdict once the answers decide the question and at least two players agree "
        "with it (yours may be judged later). An untrusted player's answer is kept but counts "
        "for nothing while they stay untrusted; one answer per network counts, weighted by "
        "the player's accuracy on questions whose answer is known.",
    )
    def post(self, request: Request, question_id: int) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        answer = verification.verification_answer_submit(
            player=self.player(request),
            question_id=question_id,
            same=data.validated_data["same"],
            network=address_network(GameAddressThrottle().get_ident(request) or ""),
        )
        return Response(
            {
                "same": answer.same,
                "awarded": answer.awarded,
                "points": answer.points,
                "answers": answer.question.answers.count(),
            }
        )


class SuggestionOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["merge", "split"])
    class_name = serializers.CharField()
    key_a = serializers.CharField()
    key_b = serializers.CharField()
    group_a = serializers.IntegerField()
    group_b = serializers.IntegerField()
    label_a = serializers.CharField()
    label_b = serializers.CharField()
    distance = serializers.FloatField()
    score = serializers.FloatField(help_text="Expected mention pairs set right by deciding it.")
    yes = serializers.IntegerField(help_text="Players' answers so far: same.")
    no = serializers.IntegerField(help_text="Players' answers so far: different.")


class SuggestionListApi(ResearcherApi):
    @extend_schema(
        parameters=[
            OpenApiParameter("class", str, description="Guessed class"),
            OpenApiParameter("limit", int, description="At most this many (default 50)"),
        ],
        responses=SuggestionOutput(many=True),
        description="Merge and split suggestions of the current synonym groups, the decisions "
        "the grouping is least sure of first (processing.nlp.verify.uncertain_pairs); act on "
        "them with the curation endpoints.",
    )
    def get(self, request: Request, slug: str) -> Response:
        try:
            limit = max(1, min(500, int(request.query_params.get("limit", 50))))
        except ValueError:
            limit = 50
        gs = grouping_settings_get()
        try:  # stored vectors only: a web request never loads the embedding model
            suggestions = selectors.verification_suggestions(
                campaign=self.campaign(slug),
                settings=gs,
                embed=embed_templated(embedder_stored(None, lookup_only=True), gs),
                class_name=request.query_params.get("class") or None,
                limit=limit,
            )
        except EmbeddingMissing as exc:
            raise ApplicationError(
                "Some labels of this campaign are not processed yet: run processing "
                "(process_labels --campaign ID) and ask again.",
                status=409,
            ) from exc
        return Response(SuggestionOutput(suggestions, many=True).data)
