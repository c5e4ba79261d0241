"""Signals the game sends. Other apps connect to them; the game imports none of them.

``round_finished`` is sent after the transaction that finished a round commits (status
``done``: after its characteristics, a resign, or when a round waiting for characteristics is
closed), with ``round_id``. Label processing connects here to process the round's
characteristics (see docs/game.md).
"""

from django.dispatch import Signal

round_finished = Signal()  # kwargs: round_id: int
