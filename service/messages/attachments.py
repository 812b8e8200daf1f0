"""What a photo really is, from its first bytes: the declared type is the client's word,
and a file that only claims to be an image (a script, a PDF) must not reach a nurse's
browser as one."""

from __future__ import annotations

# The signatures of the two formats we accept (PNG: the 8-byte file signature of
# RFC 2083; JPEG: start-of-image and the first marker).
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def image_type(data: bytes) -> str | None:
    """``image/png`` or ``image/jpeg`` if the bytes are one, else None."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    return None
