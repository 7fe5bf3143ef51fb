"""Settings, read once from environment variables with defaults that run the embedded sandbox fleet.

A missing or malformed value raises ConfigError naming the variable; `load_or_exit()` turns that into
one line on stderr and exit status 2. In production (`WOOERP_ENV=production`) nothing that points at a
real system has a default: the broker, database, shop and ERP must be given explicitly.
"""
from __future__ import annotations

import ipaddress
import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import parse_qs, unquote, urlsplit

from connector.errors import ConfigError
from connector.mapping.customers import DEFAULT_VAT_META_KEYS

SANDBOX_WOO_KEY = "ck_" + "5a" * 20
SANDBOX_WOO_SECRET = "cs_" + "5b" * 20
SANDBOX_ERP_TOKEN = "erp-sandbox-token"
SANDBOX_TRYTON_PASSWORD = "tryton-sandbox-password"  # the `wooerp` user of sandbox/tryton's demo database
SANDBOX_WEBHOOK_SECRET = "wooerp-sandbox-webhook-secret"
DEFAULT_FLOWER_PASSWORD = "wooerp-dev"
# Values that production refuses for any secret: the defaults, the sandboxes' and the deploy examples'.
KNOWN_SECRETS = frozenset({SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, SANDBOX_ERP_TOKEN, SANDBOX_TRYTON_PASSWORD,
                           SANDBOX_WEBHOOK_SECRET, DEFAULT_FLOWER_PASSWORD})
PLACEHOLDER = re.compile(r"change[-_ ]?me|replace[-_ ]?me|placeholder|^x+$|^\*+$|^<.*>$", re.IGNORECASE)
MIN_SECRET_LENGTH = 16

ENVIRONMENTS = ("development", "production")
REQUIRED_IN_PRODUCTION = ("REDIS_URL", "DATABASE_URL", "WOO_URL", "WOO_CONSUMER_KEY", "WOO_CONSUMER_SECRET",
                          "WOO_WEBHOOK_SECRET", "ERP_URL", "ERP_TOKEN")
TRYTON_REQUIRED_IN_PRODUCTION = ("TRYTON_URL", "TRYTON_DATABASE", "TRYTON_USER", "TRYTON_PASSWORD")
ERP_KINDS = ("rest", "tryton")
MAX_PORT = 65535
CURRENCY_CODE = re.compile(r"[A-Z]{3}")  # ISO 4217 alphabetic code, as WooCommerce and the ERP spell it
SECRET_FIELDS = ("woo_consumer_secret", "woo_webhook_secret", "erp_token", "flower_password", "tryton_password")


@dataclass(frozen=True)
class Settings:
    """Every setting of a wooerp process, read once from the environment by `load` (defaults run the embedded
    sandbox fleet; see README's Configuration section). Durations are seconds unless the name says minutes or
    hour (UTC); lists are tuples; secrets are here in clear: log `redacted()`, mask `secrets()`. Immutable."""
    env: str
    broker_url: str
    database_url: str
    woo_url: str
    woo_consumer_key: str
    woo_consumer_secret: str
    woo_webhook_secret: str
    woo_timeout: float
    erp_url: str
    erp_token: str
    erp_timeout: float
    erp_kind: str
    tryton_url: str
    tryton_database: str
    tryton_user: str
    tryton_password: str
    tryton_warehouses: tuple[str, ...]
    tryton_sale_warehouse: str
    tryton_stock_basis: str
    tryton_confirm_sales: bool
    web_warehouses: tuple[str, ...]
    product_poll_seconds: float
    inventory_poll_seconds: float
    order_poll_seconds: float
    shipment_poll_seconds: float
    relay_seconds: float
    poll_overlap_seconds: float
    full_resync_hour: int
    reconcile_hour: int
    reconcile_order_grace_minutes: float
    reconcile_change_grace_minutes: float
    reconcile_dir: str
    import_statuses: tuple[str, ...]
    currencies: tuple[str, ...]
    webhook_topics: tuple[str, ...]
    webhook_max_body_bytes: int
    webhook_body_timeout: float
    identity_wait_seconds: float
    shim_url: str
    visibility_timeout: int
    max_retries: int
    retry_backoff_base: float
    retry_backoff_max: int
    order_lease_seconds: int
    stream_lease_seconds: int
    poison_max_deliveries: int
    woo_rate_limit: float
    woo_rate_burst: float
    erp_rate_limit: float
    erp_rate_burst: float
    woo_max_concurrency: int
    flower_user: str
    flower_password: str
    log_level: str
    stuck_task_seconds: int
    watch_seconds: float
    metrics_port: int
    metrics_address: str
    vat_meta_keys: tuple[str, ...] = ()  # empty: connector.mapping.customers.DEFAULT_VAT_META_KEYS
    sqlite_busy_timeout: float = 30.0

    def secrets(self) -> tuple[str, ...]:
        """Every secret value of these settings (tokens, passwords, URL passwords): what logs must mask."""
        values = [getattr(self, name) for name in SECRET_FIELDS]
        values += [url_password(u) or "" for u in (self.broker_url, self.database_url)]
        return tuple(v for v in values if v)

    def redacted(self) -> dict:
        """A dict of the settings fit for a log line: secrets replaced, URL passwords removed."""
        out = {}
        for name, value in self.__dict__.items():
            if name in SECRET_FIELDS:
                value = "***" if value else ""
            elif isinstance(value, str) and "://" in value:
                value = _strip_password(value)
            out[name] = value
        return out


def url_password(url: str) -> str | None:
    """The password a broker or database URL carries: in its authority, else as a `password` query
    parameter (libpq and redis-py both read one)."""
    parts = urlsplit(url)
    if parts.password:
        return unquote(parts.password)
    given = parse_qs(parts.query).get("password")
    return given[-1] if given and given[-1] else None


def socket_path(url: str) -> str | None:
    """The unix socket a PostgreSQL URL connects through: `?host=/run/postgresql`, or the percent-encoded
    path as the host (`postgresql://user@%2Frun%2Fpostgresql/db`); None for a TCP host."""
    parts = urlsplit(url)
    for host in (parse_qs(parts.query).get("host") or [""])[-1], unquote(parts.netloc.rpartition("@")[2]):
        if host.startswith("/"):
            return host
    return None


def is_local_host(url: str) -> bool:
    """True when the URL reaches its server through a unix socket or a loopback address."""
    if socket_path(url):
        return True
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unauthenticated_services(s: "Settings") -> list[tuple[str, str]]:
    """(variable, host) of the broker and database URLs that carry no password and reach a server that is
    neither on a unix socket nor on loopback: anyone on that network can read and change the queue or the
    state. Production warns about them at start (trust or network authentication is legitimate on a
    private network, so they are not refused)."""
    found = []
    for variable, url in (("REDIS_URL", s.broker_url), ("DATABASE_URL", s.database_url)):
        if url.startswith("sqlite") or url_password(url) or is_local_host(url):
            continue
        found.append((variable, urlsplit(url).hostname or ""))
    return found


def _strip_password(url: str) -> str:
    parts = urlsplit(url)
    if not url_password(url):
        return url
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    if "password=" in parts.query:
        parts = parts._replace(query=re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query))
    return parts.geturl()


class _Reader:
    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.production = env.get("WOOERP_ENV", "development") == "production"
        self.required = set(REQUIRED_IN_PRODUCTION)
        if (env.get("ERP_KIND") or "").strip() == "tryton":  # the REST ERP's URL and token are then unused
            self.required = self.required - {"ERP_URL", "ERP_TOKEN"} | set(TRYTON_REQUIRED_IN_PRODUCTION)

    def raw(self, name: str, default: str | None) -> str:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            if self.production and name in self.required:
                raise ConfigError(name, "is required when WOOERP_ENV=production")
            if default is None:
                raise ConfigError(name, "is required")
            return default
        return value.strip()

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.raw(name, default)
        if value not in choices:
            raise ConfigError(name, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        value = self.raw(name, default)
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            raise ConfigError(name, f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}, "
                                    f"got {_strip_password(value)!r}")
        if parts.scheme != "sqlite" and not parts.hostname and not (parts.scheme.startswith("postgres")
                                                                     and socket_path(value)):
            raise ConfigError(name, f"has no host: {_strip_password(value)!r}")
        return value.rstrip("/") if parts.scheme in ("http", "https") else value

    def number(self, name: str, default: str, cast: Callable = float, minimum: float = 0,
               maximum: float | None = None) -> float:
        value = self.raw(name, default)
        try:
            number = cast(value)
        except ValueError:
            raise ConfigError(name, f"must be a {'whole ' if cast is int else ''}number, got {value!r}") from None
        if not math.isfinite(number):  # float() takes nan and inf; no duration, rate or size is either
            raise ConfigError(name, f"must be a finite number, got {value!r}")
        if number < minimum:
            raise ConfigError(name, f"must be at least {minimum}, got {value!r}")
        if maximum is not None and number > maximum:
            raise ConfigError(name, f"must be at most {maximum}, got {value!r}")
        return number

    def port(self, name: str, default: str) -> int:
        """A TCP port, 0..65535 (0: the listener is off)."""
        return int(self.number(name, default, int, 0, MAX_PORT))

    def import_statuses(self, name: str, default: str) -> tuple[str, ...]:
        """Shop statuses that import an order: none of them may be one the order life treats as ended (an
        order would be imported and cancelled in the ERP by the same status)."""
        from connector.sync.order_life import ENDED  # not at import time: the sync layer imports the database
        statuses = self.csv(name, default)
        ended = [x for x in statuses if x in ENDED]
        if ended:
            raise ConfigError(name, f"must not contain {', '.join(ended)}: an order in an ended status "
                                    f"({', '.join(ENDED)}) is cancelled in the ERP, never imported")
        return statuses

    def currencies(self, name: str, default: str) -> tuple[str, ...]:
        codes = self.csv(name, default)
        bad = [c for c in codes if not CURRENCY_CODE.fullmatch(c)]
        if bad:
            raise ConfigError(name, f"must list ISO 4217 currency codes (three capital letters, e.g. EUR), "
                                    f"got {', '.join(repr(c) for c in bad)}")
        return codes

    def topics(self, name: str, default: str) -> tuple[str, ...]:
        """Webhook topics, each one a task handles (connector.webhooks.route): a topic accepted but routed
        nowhere would be stored and never published."""
        from connector.webhooks import route  # not at import time: webhooks imports the database layer
        topics = self.csv(name, default)
        for topic in topics:
            try:
                route(topic)
            except ValueError as e:
                raise ConfigError(name, str(e)) from None
        return topics

    def csv(self, name: str, default: str) -> tuple[str, ...]:
        items = tuple(x.strip() for x in self.raw(name, default).split(",") if x.strip())
        if not items:
            raise ConfigError(name, "must list at least one value (comma-separated)")
        return items


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `env` (default: os.environ). Raises ConfigError."""
    r = _Reader(os.environ if env is None else env)
    database_default = "sqlite:///" + os.path.abspath(os.path.join("var", "wooerp.db"))
    return Settings(
        env=r.choice("WOOERP_ENV", "development", ENVIRONMENTS),
        broker_url=r.url("REDIS_URL", "redis://127.0.0.1:6390/0", ("redis", "rediss")),
        database_url=r.url("DATABASE_URL", database_default,
                           ("sqlite", "postgresql", "postgresql+psycopg2", "postgres")),
        woo_url=r.url("WOO_URL", "http://127.0.0.1:8081", ("http", "https")),
        woo_consumer_key=r.raw("WOO_CONSUMER_KEY", SANDBOX_WOO_KEY),
        woo_consumer_secret=r.raw("WOO_CONSUMER_SECRET", SANDBOX_WOO_SECRET),
        woo_webhook_secret=r.raw("WOO_WEBHOOK_SECRET", SANDBOX_WEBHOOK_SECRET),  # trimmed, as WooCommerce trims
        woo_timeout=r.number("WOO_TIMEOUT_SECONDS", "30", minimum=1),
        erp_url=r.url("ERP_URL", "http://127.0.0.1:8070", ("http", "https")),
        erp_token=r.raw("ERP_TOKEN", SANDBOX_ERP_TOKEN),
        erp_timeout=r.number("ERP_TIMEOUT_SECONDS", "30", minimum=1),
        **_tryton(r),
        web_warehouses=r.csv("WEB_WAREHOUSES", "MAIN,STORE2"),
        product_poll_seconds=r.number("PRODUCT_POLL_SECONDS", "30", minimum=1),
        inventory_poll_seconds=r.number("INVENTORY_POLL_SECONDS", "30", minimum=1),
        order_poll_seconds=r.number("ORDER_POLL_SECONDS", "60", minimum=1),
        shipment_poll_seconds=r.number("SHIPMENT_POLL_SECONDS", "60", minimum=1),
        relay_seconds=r.number("RELAY_SECONDS", "5", minimum=0.5),
        poll_overlap_seconds=r.number("POLL_OVERLAP_SECONDS", "300"),
        full_resync_hour=int(r.number("FULL_RESYNC_HOUR_UTC", "2", int, 0)),
        reconcile_hour=int(r.number("RECONCILE_HOUR_UTC", "4", int, 0)),
        reconcile_order_grace_minutes=r.number("RECONCILE_ORDER_GRACE_MINUTES", "60"),
        reconcile_change_grace_minutes=r.number("RECONCILE_CHANGE_GRACE_MINUTES", "10"),
        reconcile_dir=os.path.abspath(r.raw("RECONCILE_DIR", os.path.join("var", "reconcile"))),
        import_statuses=r.import_statuses("IMPORT_STATUSES", "processing,on-hold,completed"),
        currencies=r.currencies("CURRENCIES", "EUR,USD,GBP,CHF,SEK,DKK,NOK,PLN,CZK"),
        webhook_topics=r.topics("WEBHOOK_TOPICS", "order.created,order.updated,order.deleted,order.restored,"
                                                  "customer.updated"),
        vat_meta_keys=r.csv("VAT_META_KEYS", ",".join(DEFAULT_VAT_META_KEYS)),
        webhook_max_body_bytes=int(r.number("WEBHOOK_MAX_BODY_BYTES", str(2 * 1024 * 1024), int, 1024)),
        webhook_body_timeout=r.number("WEBHOOK_BODY_TIMEOUT_SECONDS", "10", minimum=0.5),
        identity_wait_seconds=r.number("IDENTITY_WAIT_SECONDS", "60"),
        shim_url=r.url("SHIM_URL", "http://127.0.0.1:8000", ("http", "https")),
        visibility_timeout=int(r.number("VISIBILITY_TIMEOUT_SECONDS", "3600", int, 10)),
        max_retries=int(r.number("TASK_MAX_RETRIES", "8", int, 0)),
        retry_backoff_base=r.number("RETRY_BACKOFF_BASE_SECONDS", "2", minimum=0.1),
        retry_backoff_max=int(r.number("RETRY_BACKOFF_MAX_SECONDS", "300", int, 1)),
        poison_max_deliveries=int(r.number("POISON_MAX_DELIVERIES", "3", int, 1)),
        stream_lease_seconds=int(r.number("STREAM_LEASE_SECONDS", "120", int, 5)),
        order_lease_seconds=int(r.number("ORDER_LEASE_SECONDS", "120", int, 5)),
        **_rate_limits(r),
        woo_max_concurrency=int(r.number("WOO_MAX_CONCURRENCY", "0", int, 0)),
        flower_user=r.raw("FLOWER_USER", "admin"),
        flower_password=r.raw("FLOWER_PASSWORD", DEFAULT_FLOWER_PASSWORD),
        log_level=r.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        stuck_task_seconds=int(r.number("STUCK_TASK_SECONDS", "300", int, 1)),
        watch_seconds=r.number("FAILURE_WATCH_SECONDS", "30", minimum=1),
        metrics_port=r.port("METRICS_PORT", "9540"),
        metrics_address=r.raw("METRICS_ADDRESS", "127.0.0.1"),
        sqlite_busy_timeout=sqlite_busy_timeout(r.env),
    )


def sqlite_busy_timeout(env: Mapping[str, str] | None = None) -> float:
    """SQLITE_BUSY_TIMEOUT_SECONDS (default 30): how long an SQLite writer waits for the lock. Read here for
    the start-up check and by connector.db.make_engine, which has no Settings at hand. Raises ConfigError."""
    return _Reader(os.environ if env is None else env).number("SQLITE_BUSY_TIMEOUT_SECONDS", "30")


def _tryton(r: _Reader) -> dict:
    """ERP_KIND and the Tryton adapter's settings (defaults: sandbox/tryton's demo server)."""
    return {
        "erp_kind": r.choice("ERP_KIND", "rest", ERP_KINDS),
        "tryton_url": r.url("TRYTON_URL", "http://127.0.0.1:8071", ("http", "https")),
        "tryton_database": r.raw("TRYTON_DATABASE", "wooerp"),
        "tryton_user": r.raw("TRYTON_USER", "wooerp"),
        "tryton_password": r.raw("TRYTON_PASSWORD", SANDBOX_TRYTON_PASSWORD),
        "tryton_warehouses": tuple(x.strip() for x in r.raw("TRYTON_WAREHOUSES", "").split(",") if x.strip()),
        "tryton_sale_warehouse": r.raw("TRYTON_SALE_WAREHOUSE", ""),
        "tryton_stock_basis": r.choice("TRYTON_STOCK_BASIS", "forecast", ("forecast", "quantity")),
        "tryton_confirm_sales": r.choice("TRYTON_CONFIRM_SALES", "1", ("0", "1")) == "1",
    }


def _rate_limits(r: _Reader) -> dict:
    """Requests per second per remote system, shared by the whole fleet (0 = unlimited), and the burst."""
    out = {}
    for system in ("woo", "erp"):
        rate = r.number(f"{system.upper()}_RATE_LIMIT", "0")
        out[f"{system}_rate_limit"] = rate
        out[f"{system}_rate_burst"] = r.number(f"{system.upper()}_RATE_BURST", str(max(1.0, rate)), minimum=1)
    return out


def _check_consistency(s: Settings) -> None:
    problem = webhook_secret_problem(s.woo_webhook_secret)
    if problem:
        raise ConfigError("WOO_WEBHOOK_SECRET", problem)
    if s.env == "production":
        _check_production_secrets(s)
    if s.full_resync_hour > 23:
        raise ConfigError("FULL_RESYNC_HOUR_UTC", f"must be an hour from 0 to 23, got {s.full_resync_hour}")
    if s.reconcile_hour > 23:
        raise ConfigError("RECONCILE_HOUR_UTC", f"must be an hour from 0 to 23, got {s.reconcile_hour}")
    # Countdowns and backoff sit unacknowledged in a worker; they must end well before Redis redelivers.
    if s.retry_backoff_max * 2 >= s.visibility_timeout:
        raise ConfigError("RETRY_BACKOFF_MAX_SECONDS",
                          f"must be less than half of VISIBILITY_TIMEOUT_SECONDS ({s.visibility_timeout})")
    if s.order_lease_seconds >= s.visibility_timeout:
        raise ConfigError("ORDER_LEASE_SECONDS",
                          f"must be less than VISIBILITY_TIMEOUT_SECONDS ({s.visibility_timeout})")


# (variable, settings field) of every secret and password production checks
_PRODUCTION_SECRETS = (("WOO_CONSUMER_KEY", "woo_consumer_key"), ("WOO_CONSUMER_SECRET", "woo_consumer_secret"),
                       ("WOO_WEBHOOK_SECRET", "woo_webhook_secret"), ("FLOWER_PASSWORD", "flower_password"))


def _weak_secret(value: str) -> str | None:
    """Why `value` cannot guard anything in production, or None."""
    if value in KNOWN_SECRETS:
        return "is a default or sandbox value"
    if PLACEHOLDER.search(value):
        return "is a placeholder"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def _check_production_secrets(s: Settings) -> None:
    checks = list(_PRODUCTION_SECRETS)
    checks += [("TRYTON_PASSWORD", "tryton_password")] if s.erp_kind == "tryton" else [("ERP_TOKEN", "erp_token")]
    for variable, name in checks:
        problem = _weak_secret(getattr(s, name))
        if problem:
            raise ConfigError(variable, f"{problem}; WOOERP_ENV=production needs a real secret")
    for variable, url in (("REDIS_URL", s.broker_url), ("DATABASE_URL", s.database_url)):
        password = url_password(url)
        problem = _weak_secret(password) if password else None
        if problem:
            raise ConfigError(variable, f"password {problem}; WOOERP_ENV=production needs a real secret")


# What WooCommerce does to a webhook secret before it signs (plugins/woocommerce/includes):
# - the admin form stores sanitize_text_field(wp_unslash($secret)): backslashes go, tags are stripped,
#   `%xx` octets are removed, tabs/line breaks/runs of spaces become one space, the ends are trimmed;
# - WC_Webhook::generate_signature() signs with wp_specialchars_decode($secret, ENT_QUOTES), so
#   `&amp;` `&lt;` `&gt;` `&quot;` `&#039;` (and their numeric forms) become `& < > " '`.
# Surrounding whitespace is trimmed here as there; a secret either step would otherwise change is refused:
# it could never verify a genuine delivery.
_ADMIN_FORM_CHANGES = re.compile(r"[\\<>]|%[0-9a-fA-F]{2}|\s\s|[\t\r\n\f\v]")
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|#0*(?:34|38|39|60|62)|#x0*(?:22|26|27|3c|3e));", re.IGNORECASE)


def webhook_secret_problem(secret: str) -> str | None:
    """Why WooCommerce would never sign with `secret` as given (an HTML entity, characters its admin form
    strips or changes, a control character), as a phrase; None when it is usable."""
    if _ENTITY.search(secret):
        return "contains an HTML entity, which WooCommerce decodes before signing"
    match = _ADMIN_FORM_CHANGES.search(secret)
    if match:
        return (f"contains {match.group(0)!r}, which WooCommerce's webhook form strips or changes "
                f"(backslashes, < >, %xx, tabs, line breaks, repeated spaces)")
    if any(ord(c) < 32 or ord(c) == 127 for c in secret):
        return "contains a control character"
    return None


def load_checked(env: Mapping[str, str] | None = None) -> Settings:
    """`load`, then the checks across settings (webhook secret usable, production secrets real, hours 0–23,
    backoff and order lease below the visibility timeout) and the product mapping table read and
    validated. Raises ConfigError naming the variable."""
    s = load(env)
    _check_consistency(s)
    # every process reads the product mapping table: a broken one stops it now, not at the first product
    from connector.mapping.products import DEFAULT_TABLE, read_table
    read_table((os.environ if env is None else env).get("PRODUCT_MAPPING_FILE") or str(DEFAULT_TABLE))
    return s


def load_or_exit(env: Mapping[str, str] | None = None) -> Settings:
    """Settings, or one line on stderr naming the bad variable and exit status 2."""
    try:
        return load_checked(env)
    except ConfigError as e:
        print(f"wooerp: configuration error: {e.variable} {e.problem}", file=sys.stderr)
        raise SystemExit(2) from None
