"""A proof of erasure claims only what its search covered (GDPR Art. 17, 5(2)).

A search with nothing to look for (no identity the tables can hold) reads no table: it
is not "clean", and it says what it did not search.
"""

from __future__ import annotations

from personvern.requests.engine import Requests
from personvern.requests.proof import NOT_SEARCHED, prove_erased


def test_art17_a_proof_that_searched_no_table_is_not_clean(service: Requests) -> None:
    # An external id that is no number: the integer id columns cannot hold it, and there is
    # no e-mail or phone number to look for in the text columns.
    proof = prove_erased(service.datasets(), {"external_id": ["not-a-number"]}).as_dict()
    assert proof["searched"] == {"tables": 0, "columns": 0}
    assert proof["clean"] is False
    assert proof["not_searched"] == NOT_SEARCHED


def test_art17_a_proof_that_searched_says_what_it_did_not(service: Requests) -> None:
    proof = prove_erased(service.datasets(), {"external_id": ["25"]}).as_dict()
    assert proof["searched"]["tables"] > 0
    assert "backups" in proof["not_searched"] and "recipients" in proof["not_searched"]
