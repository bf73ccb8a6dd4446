"""The wording of the policy: which sentence each manifest field yields, in one language.

Every sentence comes from the language's phrase catalogue (:mod:`.phrases`) and is chosen
by what the manifest says, so that none is false for it. The sections are written by
families sharing one :class:`~.context.Context`: the controller, complaints, security and
changes (:mod:`.controller`); purposes and legal bases (:mod:`.purposes`); data, retention
and cookies (:mod:`.data`); recipients and transfers (:mod:`.recipients`); children,
automated decisions and rights (:mod:`.rights`). :mod:`.writer` puts them together.
"""
