"""Which files Parley takes, how it tells a file is what it claims, and which it shows inline.

A label is the sender's word only: an image (the one kind a browser renders inside the page)
must start with its format's signature, so a script labelled ``image/png`` is refused. Only
raster images are ever served inline; SVG (which can carry script), HTML and everything else
is served as a download.
"""

from __future__ import annotations

import re

#: Raster images a browser shows in an ``<img>``: their signatures (any one will do).
INLINE_IMAGES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),  # "WEBP" follows at byte 8, checked below
}
#: Other files people share, checked by signature where the format has one.
SIGNED_FILES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
}
OTHER_FILES = frozenset(
    {
        "text/plain",
        "text/csv",
        "image/svg+xml",
        "image/heic",
        "audio/mpeg",
        "audio/amr",
        "audio/ogg",
        "audio/mp4",
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
ALLOWED = frozenset(INLINE_IMAGES) | frozenset(SIGNED_FILES) | OTHER_FILES
#: Bytes read before anything is sent on: enough for every signature above.
HEAD_BYTES = 16
_FILENAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/]")
MAX_FILENAME = 255


def matches_label(content_type: str, head: bytes) -> bool:
    """Whether the first bytes fit the claimed type (types without a signature always do)."""
    signatures = INLINE_IMAGES.get(content_type) or SIGNED_FILES.get(content_type)
    if signatures is None:
        return True
    if not head.startswith(signatures):
        return False
    return content_type != "image/webp" or head[8:12] == b"WEBP"


def shown_inline(content_type: str) -> bool:
    return content_type in INLINE_IMAGES


def clean_filename(raw: str | None) -> str | None:
    """A file name fit to store and show: the last path segment, no control characters or
    quotes, at most 255 characters; ``None`` when nothing is left."""
    if not raw:
        return None
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = _FILENAME_UNSAFE.sub("", name).strip()[:MAX_FILENAME]
    return name or None
