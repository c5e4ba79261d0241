"""Frame bytes that differ from one response to the next (docs/SECURITY.md, "answer key").

Every player of an item is shown the same stored reveal frames. Served as stored, a frame's
bytes (their hash, even their length) would be the same for every player of the item, so a
player who learned an item's class once (after a resign, say) could recognise the item at
step 0 in a later round from the bytes alone. :func:`jpeg_salted` inserts a comment segment
of random length and content after the JPEG's start-of-image marker: the pixels are unchanged
(decoders skip comments), the bytes and their length are not. It costs a copy of the bytes.

It only stops that naive lookup. A player who strips the comment (one line of code) or
compares *pixels* still recognises the item, and the lengths stay within ``MAX_SALT`` + 4
bytes of the stored file's: that is left to player trust (implausible early wins, rounds left
without a label; docs/METHOD_NOTES.md, "Player trust"; docs/SECURITY.md).
"""

from __future__ import annotations

import secrets
import struct

SOI = b"\xff\xd8"
COM = b"\xff\xfe"
#: Random bytes per response: a length drawn in [MIN_SALT, MAX_SALT].
MIN_SALT, MAX_SALT = 16, 80


def jpeg_salted(data: bytes) -> bytes:
    """``data`` (a JPEG) with a comment segment of random bytes after its start marker;
    anything that is not a JPEG is returned unchanged."""
    if not data.startswith(SOI):
        return data
    n = MIN_SALT + secrets.randbelow(MAX_SALT - MIN_SALT + 1)
    return SOI + COM + struct.pack(">H", n + 2) + secrets.token_bytes(n) + data[2:]
