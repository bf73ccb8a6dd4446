"""Norwegian identifiers as the registers issue them: the organisasjonsnummer.

Brønnøysundregistrene issue the organisasjonsnummer as nine digits whose last is a
mod-11 check digit (weights 3, 2, 7, 6, 5, 4, 3, 2; python-stdnum's ``stdnum.no.orgnr``
computes it), and issue them only in the series beginning with 8 and 9. A number that
passes the check but begins with another digit (the examples' old "100 000 008") was
never issued: it is a placeholder, and a policy printing it names no real company.
"""

from __future__ import annotations

# The series Brønnøysundregistrene issue (Enhetsregisteret): numbers begin with 8 or 9.
ISSUED_FIRST_DIGITS = frozenset("89")


def real_orgnr(value: str) -> str:
    """``value`` as nine digits; ValueError when it fails mod-11 or was never issued."""
    from stdnum.exceptions import ValidationError
    from stdnum.no import orgnr

    try:
        number = str(orgnr.validate(value))
    except ValidationError as exc:
        raise ValueError(f"{value!r} is not a valid organisasjonsnummer ({exc})") from None
    if number[0] not in ISSUED_FIRST_DIGITS or len(set(number)) == 1:
        raise ValueError(
            f"{value!r} passes the mod-11 check but is a placeholder: Brønnøysundregistrene "
            "issue organisasjonsnumre beginning with 8 or 9; give the controller's real number "
            "or leave orgnr out"
        )
    return number
