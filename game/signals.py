"""Signals the game sends. Other apps connect to them; the game imports none of them.

``round_finished`` is sent after the transaction that finished a round commits (status
``done``: after its characteristics, a resign, or when a round waiting for characteristics is
closed), with ``round_id`` and ``campaign_id``. Label processing connects here to process the
round's characteristics (see docs/game.md).

``player_merged`` is sent inside the transaction that moves a guest's rounds to an account
(``player_claim_guest``), after both players' points were recounted from their rounds, with
``account_id`` and ``guest_id``: apps that give points outside rounds (verification answers)
move what they hold and add their points back.
"""

from django.dispatch import Signal

round_finished = Signal()  # kwargs: round_id: int, campaign_id: int
player_merged = Signal()  # kwargs: account_id: int, guest_id: int
