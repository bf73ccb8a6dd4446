"""The master key: 32 random bytes (base64) from a file or the environment; it wraps every
subject key and is never stored in the database."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from personvern.errors import ConfigurationError, InvalidInput

if TYPE_CHECKING:
    from personvern.settings import Settings

KEY_BYTES = 32
ENV_KEY = "PERSONVERN_MASTER_KEY"
ENV_FILE = "PERSONVERN_MASTER_KEY_FILE"
HOW_TO_CREATE = (
    f"create one with `personvern keys init-master --out FILE` and set {ENV_FILE}=FILE "
    f"(or put its base64 text in {ENV_KEY})"
)


@dataclass(frozen=True)
class MasterKey:
    """A master key and its public id (an HMAC check value that does not reveal the key)."""

    secret: bytes = field(repr=False)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ConfigurationError(
                f"master key from {self.source} is {len(self.secret)} bytes; it must be "
                f"{KEY_BYTES} (base64 of 32 random bytes); {HOW_TO_CREATE}"
            )

    @cached_property  # asked at every wrap and every signed checkpoint
    def key_id(self) -> str:
        """16 hex digits naming this key; stored beside every key it wraps."""
        tag = hmac.new(self.secret, b"personvern master key id v1", hashlib.sha256)
        return tag.hexdigest()[:16]

    def derive(self, label: bytes) -> bytes:
        """A 32-byte key for one use (named by ``label``), independent of every other use."""
        return hmac.new(self.secret, b"personvern derived key v1:" + label, hashlib.sha256).digest()

    @classmethod
    def generate(cls) -> MasterKey:
        """A new random key."""
        return cls(secrets.token_bytes(KEY_BYTES), "<new>")

    def encoded(self) -> str:
        """The key as base64 text, as key files and the environment hold it."""
        return base64.b64encode(self.secret).decode()


def parse_key(text: str, source: str) -> MasterKey:
    """A key from its base64 text; a clear error naming ``source`` otherwise."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"master key from {source} is not base64; {HOW_TO_CREATE}") from None
    return MasterKey(raw, source)


def read_key_file(path: Path) -> MasterKey:
    """The key in ``path``; refused if others can read it (it unlocks every subject's data)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ConfigurationError(f"master key file {path} does not exist; {HOW_TO_CREATE}"
                                 ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigurationError(f"cannot read master key file {path}: {err}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"master key file {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}`"
        )
    return parse_key(text, str(path))


def load_master_key(settings: Settings) -> MasterKey:
    """The configured master key; ConfigurationError naming both variables when none is set.

    Settings built by hand (tests, embedding apps) fall back to the environment.
    """
    key_file, key = settings.master_key_file, settings.master_key
    if key_file is None and key is None:
        key_file = Path(os.environ[ENV_FILE]) if os.environ.get(ENV_FILE) else None
        key = os.environ.get(ENV_KEY) or None
    if key_file is not None and key is not None:
        raise ConfigurationError(f"both {ENV_FILE} and {ENV_KEY} are set; set only one")
    if key_file is not None:
        return read_key_file(key_file)
    if key is not None:
        return parse_key(key, ENV_KEY)
    raise ConfigurationError(
        f"no master key: personal data is encrypted and the engine will not start without "
        f"its key. Set {ENV_FILE} to a key file or {ENV_KEY} to the key; {HOW_TO_CREATE}"
    )


def write_key_file(path: Path, key: MasterKey | None = None) -> MasterKey:
    """Write a new (or the given) key to ``path`` with mode 0600; never overwrites a file."""
    key = key or MasterKey.generate()
    if not path.parent.is_dir():
        raise InvalidInput(f"cannot write {path}: directory {path.parent} does not exist")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(f"{path} already exists; a key file is never overwritten "
                           "(losing it loses every subject's data)") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.encoded() + "\n")
    return key
