"""Settings, built by a factory from the environment and CLI options; never at import.

A frozen dataclass rather than pydantic-settings (the stack's default): importing
pydantic-settings costs 100-200 ms on the machines we measure, against a 300 ms
start-up budget for ``personvern check``, and these are a handful of plain values.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from personvern.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///personvern.db"
ENV_PREFIX = "PERSONVERN_"


# Who runs the background work (Settings.jobs).
JOB_RUNNERS = ("serve", "worker")


@dataclass(frozen=True)
class Settings:
    """Where the manifest and the engine's database are, and limits.

    Each field can be set by ``PERSONVERN_<FIELD>`` (e.g. ``PERSONVERN_DATABASE_URL``).
    """

    manifest: Path = field(default=Path("personvern.yaml"),
                           metadata={"help": "the manifest file"})
    database_url: str = field(default=DEFAULT_DATABASE_URL,
                              metadata={"help": "SQLAlchemy URL of the engine's database"})
    max_manifest_bytes: int = field(default=2 * 1024 * 1024,
                                    metadata={"help": "largest manifest read, in bytes"})
    cookie_choice_months: int = field(default=6,
                                      metadata={"help": "how long a cookie choice lasts"})
    # Hashes IP addresses and user agents in consent evidence; without it a random key
    # lasts only while the process runs. Never shown in a repr.
    evidence_key: str | None = field(default=None, repr=False,
                                     metadata={"help": "key for hashing request evidence"})
    # The master key wrapping every subject key (crypto-shredding): base64 of 32 bytes,
    # from a 0600 file (preferred) or the variable itself. Never shown in a repr.
    master_key_file: Path | None = field(default=None, metadata={
        "help": "file holding the master key "
                "(create with `personvern keys init-master --out FILE`)"})
    master_key: str | None = field(default=None, repr=False,
                                   metadata={"help": "the master key itself, base64"})
    # Mail the web app sends at once (portal sign-in links) goes through this server.
    smtp_host: str = field(default="127.0.0.1", metadata={"help": "SMTP server host"})
    smtp_port: int = field(default=25, metadata={"help": "SMTP server port"})
    mail_from: str | None = field(default=None, metadata={
        "help": "sender address (default: the controller's e-mail in the manifest)"})
    # Every link in e-mail is built from this, never from the request's Host header (which
    # anyone can forge); without it the portal sends no sign-in links at all.
    public_url: str | None = field(default=None, metadata={
        "help": "the portal's public base URL, e.g. https://personvern.example.no; "
                "sign-in links are sent only when it is set"})
    # The reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed; nobody's by
    # default, so a client cannot pick the address the per-IP limits count it under.
    forwarded_allow_ips: str = field(default="", metadata={
        "help": "comma-separated addresses or networks of trusted reverse proxies "
                "(X-Forwarded-For); none by default"})
    # Sites allowed to call the cookie banner's endpoints from the browser (CORS).
    banner_origins: str = field(default="", metadata={
        "help": "comma-separated origins that embed the cookie banner"})
    # Access packages and portability exports the server makes (portal, API, dashboard)
    # are removed once downloaded, or after this long.
    export_lifetime_minutes: int = field(default=60, metadata={
        "help": "minutes an access package waits to be downloaded before it is removed"})
    # Where the server keeps them meanwhile; by default a new private (0700) directory per
    # server, removed when it stops. A configured one is kept, and swept the same way.
    export_dir: Path | None = field(default=None, metadata={
        "help": "directory for access packages the server makes (default: a private "
                "temporary one)"})
    # Who does the background work (the retention sweep, request runs asked for later, the
    # outbox, Art. 19 notices, callbacks due again): ``serve`` itself, in-process (the
    # default, and the only choice on SQLite), or ``worker``: `personvern worker`
    # processes on any host sharing the PostgreSQL database (docs/scale.md).
    jobs: str = field(default="serve", metadata={
        "help": "who runs the background work: serve (in-process) or worker "
                "(`personvern worker`, PostgreSQL only)"})

    def __post_init__(self) -> None:
        if self.max_manifest_bytes < 1024:
            raise ConfigurationError(
                f"{ENV_PREFIX}MAX_MANIFEST_BYTES must be at least 1024, "
                f"not {self.max_manifest_bytes}"
            )
        if not 1 <= self.cookie_choice_months <= 24:
            raise ConfigurationError(
                f"{ENV_PREFIX}COOKIE_CHOICE_MONTHS must be between 1 and 24, "
                f"not {self.cookie_choice_months}"
            )
        if not 1 <= self.export_lifetime_minutes <= 7 * 24 * 60:
            raise ConfigurationError(
                f"{ENV_PREFIX}EXPORT_LIFETIME_MINUTES must be between 1 and 10080 (a week), "
                f"not {self.export_lifetime_minutes}")
        if not 1 <= self.smtp_port <= 65535:
            raise ConfigurationError(
                f"{ENV_PREFIX}SMTP_PORT must be between 1 and 65535, not {self.smtp_port}")
        for origin in self.origins():
            if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
                raise ConfigurationError(
                    f"{ENV_PREFIX}BANNER_ORIGINS: {origin!r} is not an origin like "
                    "https://www.example.no (scheme and host, no path)")
        for proxy in self.trusted_proxies():
            if proxy != "*" and not _is_network(proxy):
                raise ConfigurationError(
                    f"{ENV_PREFIX}FORWARDED_ALLOW_IPS: {proxy!r} is not an IP address or "
                    "network such as 10.0.0.5 or 10.0.0.0/24 (or * for any)")
        if self.jobs not in JOB_RUNNERS:
            raise ConfigurationError(
                f"{ENV_PREFIX}JOBS must be serve or worker, not {self.jobs!r}")
        backend = self.database_url.split(":", 1)[0].split("+", 1)[0].strip()
        if self.jobs == "worker" and backend not in ("postgresql", "postgres"):
            raise ConfigurationError(
                f"{ENV_PREFIX}JOBS=worker needs PostgreSQL (the job queue lives there); "
                f"on {backend} serve runs the jobs itself: "
                f"leave {ENV_PREFIX}JOBS unset")
        if self.public_url is not None:
            # Stored without a trailing slash, so links join it with their path as is.
            object.__setattr__(self, "public_url", check_public_url(self.public_url))

    def trusted_proxies(self) -> list[str]:
        """The trusted proxies' addresses and networks, as listed (empty: none)."""
        return [p.strip() for p in self.forwarded_allow_ips.split(",") if p.strip()]

    def origins(self) -> list[str]:
        """The banner's allowed origins, without trailing slashes."""
        return [o.strip().rstrip("/") for o in self.banner_origins.split(",") if o.strip()]


def check_public_url(value: str) -> str:
    """``value`` without a trailing slash if it is a public base URL; ConfigurationError else."""
    text = value.strip()
    problem = _url_problem(text)
    if problem:
        raise ConfigurationError(
            f"{ENV_PREFIX}PUBLIC_URL {value!r} is not a base URL such as "
            f"https://personvern.example.no: {problem}")
    return text.rstrip("/")


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _url_problem(text: str) -> str | None:
    """What is wrong with ``text`` as a public base URL, or None."""
    try:
        parts = urlsplit(text)
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        return f"it is not a URL ({exc})"
    if any(ch.isspace() for ch in text):
        return "it must not contain spaces"
    if parts.scheme not in ("http", "https"):
        return "it must start with http:// or https://"
    if not parts.hostname:
        return "it has no host"
    if "@" in parts.netloc:
        return "it must not contain a user name or password"
    if parts.query or "?" in text:
        return "it must not have a query (?...)"
    if parts.fragment or "#" in text:
        return "it must not have a fragment (#...)"
    return None


def _from_env(name: str, kind: type) -> object:
    raw = os.environ[ENV_PREFIX + name.upper()]
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(
                f"{ENV_PREFIX}{name.upper()}={raw!r} is not a whole number"
            ) from None
    if kind is Path:
        return Path(raw)
    return raw


def get_settings(**overrides: object) -> Settings:
    """Settings from ``PERSONVERN_*`` variables, with non-None ``overrides`` on top."""
    kinds = {"manifest": Path, "database_url": str, "max_manifest_bytes": int,
             "cookie_choice_months": int, "evidence_key": str, "master_key_file": Path,
             "master_key": str, "smtp_host": str, "smtp_port": int, "mail_from": str,
             "public_url": str, "forwarded_allow_ips": str, "banner_origins": str,
             "export_lifetime_minutes": int, "export_dir": Path, "jobs": str}
    values: dict[str, object] = {}
    for f in fields(Settings):
        if overrides.get(f.name) is not None:
            values[f.name] = overrides[f.name]
        elif ENV_PREFIX + f.name.upper() in os.environ:
            values[f.name] = _from_env(f.name, kinds[f.name])
    unknown = set(overrides) - set(kinds)
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    return Settings(**values)  # type: ignore[arg-type]
