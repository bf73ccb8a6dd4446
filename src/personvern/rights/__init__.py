"""Data-subject rights, decided in one place: which rights a legal basis gives, what an
objection does, and who may act for whom. Every other package asks here.

- :mod:`personvern.rights.basis`: the rights each purpose gives (GDPR Art. 7(3), 15-22)
  and whether an objection is absolute (Art. 21(3)) or weighed (Art. 21(1)).
- :mod:`personvern.rights.acting`: a person themselves, a guardian for a child, an
  organisation admin for a member; the ages come from :mod:`personvern.law`.
"""
