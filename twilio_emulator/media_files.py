"""Where the Media Content Service keeps the bytes: one file per media SID in a folder.

Files rather than memory so that a 150 MB upload costs disk, not the emulator's RAM: uploads
are copied in chunks as they arrive and served back with `send_file`. With persistence the
folder sits beside the SQLite file (`<file>.media/`) and outlives the process, as the records
that name the files do; without it, a temporary folder removed when the emulator closes (or,
for a server stopped by Ctrl-C, when the interpreter exits).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO

from twilio_emulator import errors, sids

CHUNK = 64 * 1024


class TooLarge(Exception):
    """The upload went past the limit; nothing of it is kept."""


class MediaFiles:
    def __init__(self, persist_path: str | None) -> None:
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        if persist_path is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="twilio-emulator-media-")
            self.folder = Path(self._temporary.name)
        else:
            self.folder = Path(persist_path + ".media")
            self.folder.mkdir(exist_ok=True)

    def path(self, sid: str) -> Path:
        if not sids.looks_like(sids.MEDIA, sid):  # never a path outside the folder
            raise errors.TwilioError(404, errors.NOT_FOUND, "")
        return self.folder / sid

    def save(self, sid: str, source: IO[bytes], limit: int) -> int:
        """Copy `source` to the file of `sid` chunk by chunk; its size, at most `limit`."""
        target = self.path(sid)
        size = 0
        try:
            with target.open("wb") as out:
                while chunk := source.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge
                    out.write(chunk)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return size

    def discard(self, sid: str) -> None:
        self.path(sid).unlink(missing_ok=True)

    def close(self) -> None:
        if self._temporary is not None:
            self._temporary.cleanup()
