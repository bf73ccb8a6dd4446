"""The envelope: ``pv1:`` + base64(nonce || AES-256-GCM ciphertext and tag).

The associated data binds a ciphertext to its subject and its context (table.column or
purpose), so one copied into another subject's row or another column fails to open.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from personvern.errors import StorageError

PREFIX = "pv1:"
NONCE_BYTES = 12  # 96 bits, random per message: GCM's recommended nonce


class CiphertextRejected(StorageError):
    """A ciphertext failed authentication: altered, or moved from another row or column."""


def associated_data(subject_id: str, context: str) -> bytes:
    """What a ciphertext is bound to (authenticated, not stored)."""
    return f"personvern:v1:{subject_id}:{context}".encode()


def is_envelope(value: object) -> bool:
    """Whether ``value`` looks like a sealed envelope (cheap check; not authentication)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def seal(aead: AESGCM, subject_id: str, context: str, plaintext: bytes) -> str:
    """Encrypt ``plaintext`` for ``subject_id`` in ``context`` with a fresh random nonce."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    body = aead.encrypt(nonce, plaintext, associated_data(subject_id, context))
    return PREFIX + base64.b64encode(nonce + body).decode()


def open_(aead: AESGCM, subject_id: str, context: str, envelope: str) -> bytes:
    """The plaintext of ``envelope``; CiphertextRejected if it does not belong here."""
    if not is_envelope(envelope):
        raise CiphertextRejected(f"{context}: not a pv1 envelope")
    try:
        raw = base64.b64decode(envelope[len(PREFIX):], validate=True)
        return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                            associated_data(subject_id, context))
    except (InvalidTag, binascii.Error, ValueError):
        raise CiphertextRejected(
            f"{context} of subject {subject_id}: the ciphertext does not authenticate "
            "(altered, or copied from another row or column)"
        ) from None
