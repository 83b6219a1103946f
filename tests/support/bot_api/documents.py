"""Documents users and the bot send (sendDocument, push_document), found again by file_id or
by file_path (getFile, downloads)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files, as api.telegram.org does


@dataclass
class StoredDocument:
    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None
    mime_type: str | None
    file_path: str


class DocumentStore:
    """Stored documents by file_id; the server locks around it."""

    def __init__(self) -> None:
        self.by_id: dict[str, StoredDocument] = {}

    def store(self, data: bytes, file_name: str | None, mime_type: str | None) -> StoredDocument:
        number = len(self.by_id) + 1
        unique = base64.urlsafe_b64encode(os.urandom(9)).decode()
        suffix = os.path.splitext(file_name or "")[1][:10]
        stored = StoredDocument(
            file_id="BQACAgIAAxkBAAI" + base64.urlsafe_b64encode(os.urandom(24)).decode(),
            file_unique_id=f"AgAD{unique}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            file_path=f"documents/file_{number}{suffix}",
        )
        self.by_id[stored.file_id] = stored
        return stored


def describe_document(stored: StoredDocument, with_size: bool = True) -> dict:
    """The Document object of a message or getFile answer (``file_size`` is optional in the
    Bot API: ``with_size`` False leaves it out)."""
    found = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if stored.file_name:
        found["file_name"] = stored.file_name
    if stored.mime_type:
        found["mime_type"] = stored.mime_type
    if with_size:
        found["file_size"] = len(stored.data)
    return found


def mime_of(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    return {".csv": "text/csv", ".txt": "text/plain", ".zip": "application/zip"}.get(
        suffix, "application/octet-stream"
    )
