"""The e-mail notice of a changed policy says only what is true of everyone it goes to.

It is queued to every subject with an e-mail address (policy.notices.queue_notices),
among them people the data map holds who were never customers (a newsletter address
registered by ``subject sync``, requests.found): "you have an account or a customer
relationship with us" is not true of them. GDPR Art. 12(1), 13(3).
"""

from __future__ import annotations

from datetime import date

import pytest

from personvern.policy.notices import notice_for
from policy.support import example


@pytest.mark.parametrize("name", ["snapmentor", "vekstly", "lillemini", "minmentor",
                                  "teoritentamen"])
def test_art13_3_the_notice_claims_no_account_or_customer_relationship(name: str) -> None:
    notice = notice_for(example(name).manifest, 2, date(2027, 3, 1), [])
    for body in (notice.text, notice.html):
        assert "account or a customer relationship" not in body
        assert "konto eller et kundeforhold" not in body
    assert "because we hold personal data about you at this e-mail address" in notice.text
    assert "fordi vi behandler personopplysninger om deg knyttet til denne e-postadressen" \
        in notice.text
