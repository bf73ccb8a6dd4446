"""What a browser would see in a page we write: for tests that hostile text stays text."""

from __future__ import annotations

from html.parser import HTMLParser

HOSTILE = '<script>alert(1)</script> "onmouseover=alert(2) x'


class Markup(HTMLParser):
    """The tags, attribute names and text a browser would see in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes |= {name for name, _ in attrs}

    def handle_data(self, data: str) -> None:
        self.text.append(data)
