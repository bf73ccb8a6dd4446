"""Crypto-shredding: personal data sealed with per-subject AES-256-GCM keys, wrapped by a
master key; destroying a subject's key leaves only ciphertext behind (backups included)."""

from personvern.crypto.columns import ERASED, EncryptedJSON, EncryptedText, Sealed
from personvern.crypto.keyring import Keyring, default_keyring, use_keyring
from personvern.crypto.master import MasterKey

__all__ = [
    "ERASED", "EncryptedJSON", "EncryptedText", "Keyring", "MasterKey", "Sealed",
    "default_keyring", "use_keyring",
]
