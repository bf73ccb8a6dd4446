"""Signed-in browsers and one-time sign-in links: the records the portal and the
dashboard keep, and that erasure must end."""
