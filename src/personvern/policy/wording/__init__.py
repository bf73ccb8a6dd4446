"""The wording of the policy: which sentence each manifest field yields, in one language."""
