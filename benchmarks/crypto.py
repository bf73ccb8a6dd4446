"""Crypto-shredding cost: sealing and opening one field, against the bare AES-GCM call in
the same run, and finding a subject's key with and without the cache.

    python benchmarks/crypto.py --quick

Baselines: ``AESGCM.encrypt``/``decrypt`` with a fresh random nonce and the same
associated data (what sealing cannot do without), and the unwrap alone.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, log, parse_args, ratio
from personvern.crypto.envelope import associated_data
from personvern.crypto.keyring import Keyring
from personvern.crypto.master import MasterKey
from personvern.storage.engine import create_engine_for
from personvern.storage.migrate import upgrade

CONTEXT = "subject_identities.value"
VALUE = b"kari.nordmann.1987@example.no"


def per_op_us(func: Callable[[int], object], n: int, runs: int) -> float:
    """Best-of-``runs`` microseconds per call of ``func(i)`` over ``n`` calls."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        for i in range(n):
            func(i)
        best = min(best, (time.perf_counter() - started) / n)
    return best * 1e6


def measure_fields(quick: bool, runs: int | None = None
                   ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(size, figures, ratios): sealing and opening one field, and key lookups."""
    subjects, fields = (500, 20_000) if quick else (5_000, 200_000)
    runs = runs or (3 if quick else 5)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = create_engine_for(url)
        keyring = Keyring(MasterKey.generate(), cache_size=subjects * 2)
        ids = [secrets.token_hex(16) for _ in range(subjects)]
        log(f"creating {subjects} subject keys")
        with engine.begin() as conn:
            for sid in ids:
                keyring.key(conn, sid, create=True)
        raw = secrets.token_bytes(32)
        bare = AESGCM(raw)
        ads = [associated_data(sid, CONTEXT) for sid in ids]
        with engine.connect() as conn:
            log(f"sealing and opening {fields} fields")
            sealed = [keyring.seal(conn, ids[i % subjects], CONTEXT, VALUE)
                      for i in range(fields)]
            bare_ct = [(n := os.urandom(12), bare.encrypt(n, VALUE, ads[i % subjects]))
                       for i in range(fields)]
            seal_us = per_op_us(
                lambda i: keyring.seal(conn, ids[i % subjects], CONTEXT, VALUE), fields, runs)
            bare_seal_us = per_op_us(
                lambda i: bare.encrypt(os.urandom(12), VALUE, ads[i % subjects]), fields, runs)
            open_us = per_op_us(
                lambda i: keyring.open(conn, ids[i % subjects], CONTEXT, sealed[i]), fields, runs)
            bare_open_us = per_op_us(
                lambda i: bare.decrypt(bare_ct[i][0], bare_ct[i][1], ads[i % subjects]),
                fields, runs)
            log("looking keys up, cached and uncached")
            cached_us = per_op_us(lambda i: keyring.key(conn, ids[i % subjects]), fields, runs)
            cold = Keyring(keyring.master, cache_size=0)
            lookups = min(fields, 5_000)
            uncached_us = per_op_us(lambda i: cold.key(conn, ids[i % subjects]), lookups, runs)
            wrapped = keyring.wrap(ids[0], raw)
            unwrap_us = per_op_us(lambda i: keyring.unwrap(ids[0], wrapped,
                                                           keyring.master.key_id), fields, runs)
        engine.dispose()
    figures = {
        "seal_us_per_field": round(seal_us, 2), "bare_encrypt_us": round(bare_seal_us, 2),
        "open_us_per_field": round(open_us, 2), "bare_decrypt_us": round(bare_open_us, 2),
        "key_lookup_cached_us": round(cached_us, 2),
        "key_lookup_uncached_us": round(uncached_us, 2),
        "unwrap_alone_us": round(unwrap_us, 2),
    }
    ratios = {
        "seal_vs_bare_aesgcm_encrypt_time": ratio(seal_us, bare_seal_us),
        "open_vs_bare_aesgcm_decrypt_time": ratio(open_us, bare_open_us),
        "uncached_vs_cached_key_lookup_time": ratio(uncached_us, cached_us),
    }
    size = {"subjects": subjects, "fields": fields, "field_bytes": len(VALUE),
            "runs": runs, "database": "sqlite"}
    return size, figures, ratios


def main() -> None:
    args = parse_args(__doc__ or "")
    emit("crypto", *measure_fields(args.quick, args.runs))


if __name__ == "__main__":
    main()
