"""The Deep Reveal API's plumbing: session authentication with CSRF for guests too, the base
view (the requesting player), and the error shapes.

ApplicationError becomes a 4xx response ``{"detail": message, ...extra}``
(``core.exceptions.exception_handler``).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from core.errors import ApplicationError

from .. import selectors, services
from ..models import Player
from ..throttles import GameThrottle, network_key


class GameSessionAuthentication(SessionAuthentication):
    """Session authentication that enforces CSRF on unsafe methods for guests too.

    DRF's SessionAuthentication checks CSRF only for logged-in users; guests are identified
    by their session as well, so their actions need the same protection.
    """

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None and request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
            self.enforce_csrf(request)
        return result


class GameSessionScheme(OpenApiAuthenticationExtension):
    target_class = "game.apis.base.GameSessionAuthentication"
    name = "gameSessionCookie"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """Responses in JSON whatever the Accept header says (the game's script is the one client):
    no header parsing on the hottest endpoints, no 406; request bodies are parsed by their
    Content-Type as everywhere."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class GameApi(APIView):
    """The base of every game API view: JSON only (the game's script is the one client; no
    content negotiation on the hottest endpoints), session authentication with CSRF, and the
    per-player and per-address throttle."""

    authentication_classes = [GameSessionAuthentication]
    throttle_classes = [GameThrottle]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnlyNegotiation

    def handle_exception(self, exc):
        # ApplicationError -> its status and message: core.exceptions.exception_handler.
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            exc = exceptions.PermissionDenied(str(exc.detail))
        return super().handle_exception(exc)

    def player(self, request: Request, *, required: bool = True) -> Player | None:
        network = network_key(request) if request.user.is_authenticated else ""
        player = services.player_resolve(
            user=request.user, session=request.session, network=network
        )
        if player is None and required:
            raise ApplicationError(
                "Choose a nickname to play as a guest, or log in.", status=status.HTTP_403_FORBIDDEN
            )
        return player

    def player_ref(self, request: Request) -> selectors.PlayerRef:
        """The requester without a query (for actions that check the player in their SQL)."""
        ref = selectors.player_ref(user=request.user, session=request.session)
        if ref is None:
            raise ApplicationError(
                "Choose a nickname to play as a guest, or log in.", status=status.HTTP_403_FORBIDDEN
            )
        return ref


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.ListField(
        child=serializers.CharField(allow_null=True), required=False, help_text="Per text."
    )
    reasons = serializers.ListField(
        child=serializers.CharField(allow_null=True),
        required=False,
        help_text="Per text: the stable refusal code (class_name, placeholder, language, "
        "mash, duplicate… processing/nlp/refusals.py), null when accepted.",
    )
    code = serializers.ChoiceField(
        choices=["round_expired", "round_guessed", "round_over", "round_active"],
        required=False,
        help_text="409 of an action on a round whose status no longer allows it: expired "
        "(start a new one), already guessed (send the characteristics), over, or not guessed "
        "yet. The round's state is at GET /api/game/rounds/<token>/.",
    )


class ExhaustedOutput(ErrorOutput):
    """409 of a round start that found no picture for the player (issue 14: no dead end)."""

    code = serializers.ChoiceField(
        choices=["campaign_exhausted", "nothing_available"],
        required=False,
        help_text="campaign_exhausted: the player has had every picture (of the campaign, or of "
        "every campaign); nothing_available: the pictures left are at their target of rounds.",
    )
    described = serializers.IntegerField(
        required=False, help_text="Pictures this player described in the campaign."
    )
    campaign_progress = serializers.FloatField(
        required=False, help_text="Finished rounds / (items × target rounds), 0..1."
    )
    next_campaign = serializers.DictField(
        child=serializers.CharField(),
        allow_null=True,
        required=False,
        help_text="{slug, name} of another published campaign with a picture for this player.",
    )
    more_coming = serializers.BooleanField(
        required=False, help_text="True only while pictures of the campaign are being computed."
    )


ERRORS = {code: ErrorOutput for code in (400, 403, 404, 409, 429)}
START_ERRORS = {**ERRORS, 409: ExhaustedOutput}
