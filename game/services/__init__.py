"""Writes for Deep Reveal (METHOD §5). Every function takes keyword-only arguments.

players: display names, guests, accounts, a guest kept on sign-up. rounds: the round life cycle
(start, SHOW MORE, GUESS, RESIGN, finishing, expiry). characteristics: what the player saw.
tallies: the item tallies the round statements keep, and their recount.
"""

from .characteristics import round_characteristics_submit
from .players import (
    NICKNAME_TAKEN,
    SESSION_PLAYER_KEY,
    nickname_check,
    player_claim_guest,
    player_create_guest,
    player_ensure_for_user,
    player_refusals_record,
    player_rename,
    player_resolve,
)
from .rounds import (
    PlayerLike,
    player_totals_add,
    round_close,
    round_finish,
    round_guess,
    round_of_player,
    round_resign,
    round_reveal,
    round_start,
    rounds_expire,
)
from .tallies import (
    item_tallies_expire,
    item_tallies_rebuild,
    item_tally_finish,
    item_tally_start,
)

__all__ = [
    "NICKNAME_TAKEN",
    "SESSION_PLAYER_KEY",
    "PlayerLike",
    "item_tallies_expire",
    "item_tallies_rebuild",
    "item_tally_finish",
    "item_tally_start",
    "nickname_check",
    "player_claim_guest",
    "player_create_guest",
    "player_ensure_for_user",
    "player_refusals_record",
    "player_rename",
    "player_resolve",
    "round_characteristics_submit",
    "round_close",
    "round_finish",
    "round_guess",
    "round_of_player",
    "player_totals_add",
    "round_resign",
    "round_reveal",
    "round_start",
    "rounds_expire",
]
