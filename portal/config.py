"""Configuration: defaults here, overrides from ``PORTAL_*`` environment variables."""

from datetime import timedelta


class Config:
    """Production defaults. Everything can be overridden with ``PORTAL_<NAME>``."""

    ENV_NAME = "production"
    SECRET_KEY: str | None = None
    # None means "SQLite in the instance folder", filled in by create_app.
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLITE_BUSY_TIMEOUT_MS = 10_000
    # PostgreSQL: how long a statement waits for a row or table lock before giving up (every connection:
    # requests, the worker, migrations), and how long one statement of a web request may run. A request
    # that hits either answers 503 「混み合っています」 with the form input kept (portal/errors.py).
    DATABASE_LOCK_TIMEOUT_MS = 5_000
    REQUEST_STATEMENT_TIMEOUT_MS = 30_000

    MAX_CONTENT_LENGTH = 5 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 2 * 1024 * 1024

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "portal_session"
    # Idle lifetime (refreshed on each request): a working day plus, so a page left open still submits.
    PERMANENT_SESSION_LIFETIME = timedelta(hours=14)
    # Absolute lifetime: however busy, a session ends this many hours after its sign-in (or its personal
    # link's click), and the person signs in again.
    SESSION_ABSOLUTE_HOURS = 24
    REMEMBER_COOKIE_DURATION = timedelta(seconds=0)
    PREFERRED_URL_SCHEME = "https"
    # The address used in links inside emails (the worker has no request to take it from).
    BASE_URL = "http://127.0.0.1:5000"

    # At least 12 hours: a learner who leaves a question open over lunch must still be able to answer.
    WTF_CSRF_TIME_LIMIT = 14 * 3600
    WTF_CSRF_SSL_STRICT = True

    HSTS = True

    BABEL_DEFAULT_LOCALE = "ja"
    BABEL_DEFAULT_TIMEZONE = "Asia/Tokyo"
    LANGUAGES = ("ja", "en")

    # memory:// counts per process; several gunicorn workers or app instances share limits only through
    # Redis (PORTAL_RATELIMIT_STORAGE_URI=redis://host:6379/0). Should Redis stop answering, each process
    # falls back to counting in its own memory rather than refusing every sign-in.
    RATELIMIT_STORAGE_URI = "memory://"
    # How many proxies in front of the portal append to X-Forwarded-For (and set X-Forwarded-Proto): with
    # 1 (one nginx), the client's address is the last entry of X-Forwarded-For. 0 ignores those headers,
    # so that nobody picks their own address. Sign-in limits, audit IPs and /metrics networks all use it.
    TRUSTED_PROXY_HOPS = 0
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = False
    RATELIMIT_LOGIN_PER_IP = "30 per 15 minutes"
    RATELIMIT_LOGIN_PER_ACCOUNT = "5 per 15 minutes"
    RATELIMIT_FORGOT = "5 per hour"

    # The public application form (/apply): per IP, per applicant email, and re-sent confirmation links.
    RATELIMIT_APPLY_PER_IP = "10 per hour"
    RATELIMIT_APPLY_PER_EMAIL = "3 per hour"
    RATELIMIT_APPLY_RESEND = "3 per hour"
    # How long the applicant's email confirmation link works, and a request-size cap for the form.
    APPLICATION_CONFIRM_TTL = timedelta(hours=48)
    APPLICATION_MAX_BYTES = 32 * 1024
    # Unconfirmed applications (personal data never confirmed) are deleted this long after their link expired.
    APPLICATION_UNCONFIRMED_RETENTION = timedelta(days=14)
    # The public contact form (/contact, Art. 10-2): per IP and per sender email; its confirmation link's
    # life; a request-size cap; unconfirmed requests are deleted this long after their link expired.
    RATELIMIT_CONTACT_PER_IP = "10 per hour"
    RATELIMIT_CONTACT_PER_EMAIL = "3 per hour"
    CONTACT_CONFIRM_TTL = timedelta(hours=24)
    CONTACT_MAX_BYTES = 160 * 1024  # 10,000 Japanese characters, percent-encoded, fit
    CONTACT_UNCONFIRMED_RETENTION = timedelta(days=7)

    # argon2id, at least OWASP's minimum (19 MiB, 2 passes, 1 lane); RFC 9106's low-memory profile.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4

    PASSWORD_RESET_TTL = timedelta(hours=1)
    INVITATION_TTL = timedelta(days=7)
    # Sign-in links sent by email to learners (where the organization allows them): short and single-use.
    MAGIC_LINK_TTL = timedelta(minutes=15)
    RATELIMIT_MAGIC_LINK = "5 per hour"
    # CSV import of learners; MAX_CONTENT_LENGTH answers a larger request with a Japanese 413 page.
    LEARNER_IMPORT_MAX_BYTES = 5 * 1024 * 1024

    MAIL_SERVER = "127.0.0.1"
    MAIL_PORT = 8025
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_DEFAULT_SENDER = "セキュトレ・セキュレジ <no-reply@portal.invalid>"
    MAIL_TIMEOUT = 10
    # The worker (``flask worker``): see docs/guides/mail.md.
    MAIL_BATCH_SIZE = 100
    MAIL_MAX_ATTEMPTS = 12
    MAIL_RETRY_BASE_SECONDS = 60
    MAIL_RETRY_MAX_SECONDS = 3600
    MAIL_LEASE_SECONDS = 120
    MAIL_HARD_FAILURES_TO_SUPPRESS = 3
    WORKER_POLL_SECONDS = 2.0
    WORKER_HEARTBEAT_SECONDS = 10
    JOB_LEASE_SECONDS = 600
    # Staff addresses (portal/staff_alerts.py): where new tickets are announced, where an out-of-hours
    # emergency goes at once (terms Art. 10-7), and the operator's security contact, told when a user reports
    # that their password may be known (Art. 13-4). Production refuses to start until all three can receive
    # mail; `make run` points them at the local mail sink.
    SUPPORT_EMAIL: str | None = None
    ONCALL_EMAIL: str | None = None
    OPERATOR_EMAIL: str | None = None
    # Monitoring (#9): /healthz answers 503 when no worker has beaten for this long, or when an email has
    # waited this long past its send time; /metrics is open to operators and to these networks (CIDR list,
    # e.g. ["10.0.0.0/8", "127.0.0.1/32"] or "10.0.0.0/8,::1/128").
    HEALTHZ_WORKER_MAX_SILENCE_SECONDS = 120
    HEALTHZ_OUTBOX_MAX_DUE_SECONDS = 900
    METRICS_ALLOWED_NETWORKS: list[str] = []
    # Key that encrypts TOTP secrets at rest (Fernet, 32 url-safe base64 bytes). Unset: derived from
    # SECRET_KEY, so rotating SECRET_KEY then means every user enrolls their authenticator again.
    MFA_ENCRYPTION_KEY: str | None = None
    # Issuer name shown in authenticator apps.
    MFA_ISSUER = "セキュトレ・セキュレジ"
    # Ticket attachments: per file, and how many files one message may carry.
    TICKET_ATTACHMENT_MAX_BYTES = 2 * 1024 * 1024
    TICKET_ATTACHMENTS_PER_MESSAGE = 3
    # Staff are warned when this much business time is left before an answer is due.
    TICKET_WARN_BEFORE_MINUTES = 120
    # Email into tickets (docs/guides/support-desk.md): ticket notifications carry Reply-To
    # ``<local>+t<ticket id>.<code>@<domain>`` built from this address, and ``flask mail-in`` listens on
    # MAIL_IN_HOST:MAIL_IN_PORT for the replies (the MX for that domain forwards there). None: no
    # Reply-To is set and nothing is received. MAIL_IN_MAX_BYTES: larger emails are refused (SMTP 552).
    MAIL_IN_ADDRESS: str | None = None
    MAIL_IN_HOST = "127.0.0.1"
    MAIL_IN_PORT = 8026
    MAIL_IN_MAX_BYTES = 10 * 1024 * 1024

    # The issuer of qualified invoices (適格請求書) and where customers pay by bank transfer (Art. 3-3).
    # INVOICE_REGISTRATION_NUMBER is "T" and 13 digits; invoices cannot be issued until it is set.
    INVOICE_ISSUER_NAME = "株式会社ワークストラスト"
    INVOICE_REGISTRATION_NUMBER: str | None = None
    INVOICE_BANK_ACCOUNT = ""
    INVOICE_TAX_RATE = 10
    INVOICE_DUE_DAYS = 30
    # Who issues training certificates (修了証): printed on every certificate and its PDF. None: the operator's
    # company name above (INVOICE_ISSUER_NAME).
    CERTIFICATE_ISSUER: str | None = None
    # Days an ended organization can still export its data before its personal data is deleted (Art. 15, 19).
    DATA_RETENTION_DAYS = 90
    # Whom a suspended customer contacts (shown on the suspension page).
    BILLING_CONTACT = "050-3772-1290 / support@portal.invalid"
    # The code of the internal organization in which the operator's own staff take セキュトレ (Art. 4-2);
    # None: not set up yet (the staff training page says how). PORTAL_STAFF_ORGANIZATION_CODE sets it.
    STAFF_ORGANIZATION_CODE: str | None = None


class DevConfig(Config):
    ENV_NAME = "development"
    WORKER_POLL_SECONDS = 1.0
    # The local sink may start a moment after the worker: retry soon rather than in a minute.
    MAIL_RETRY_BASE_SECONDS = 5
    SESSION_COOKIE_SECURE = False
    PREFERRED_URL_SCHEME = "http"
    WTF_CSRF_SSL_STRICT = False
    HSTS = False
    # Placeholders that cannot receive mail: start-up warns and the operator's start page says so. `make run`
    # sets deliverable ones (Makefile, DEV_ENV).
    SUPPORT_EMAIL = "support@portal.invalid"
    ONCALL_EMAIL = "oncall@portal.invalid"
    OPERATOR_EMAIL = "operator@portal.invalid"
    # `make run` starts `flask mail-in` on 127.0.0.1:8026; replies to ticket notifications go there.
    MAIL_IN_ADDRESS = "support@reply.portal.test"
    # Demo values, so that `flask demo` issues an invoice (production has none and refuses to issue). No
    # registration number starts T0: a 法人番号's check digit is 1 to 9, so this one belongs to nobody.
    INVOICE_REGISTRATION_NUMBER = "T0000000000000"
    INVOICE_BANK_ACCOUNT = "デモ銀行 本店営業部 普通 1234567 カ)ワークストラスト"


class TestConfig(DevConfig):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-only-secret-key-not-for-production"  # noqa: S105 - tests only
    # Still argon2id, at its lowest cost: the suite signs in and creates users thousands of times, and at
    # OWASP's minimum (t=2, 19 MiB) each hash cost 25 ms of CPU. What the cost buys is production's setting
    # (Config above); tests check that hashes are argon2id and rehashed when the setting changes.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    INVOICE_REGISTRATION_NUMBER = "T1234567890123"
    INVOICE_BANK_ACCOUNT = "テスト銀行 本店営業部 普通 1234567 カ)ワークストラスト"
    SUPPORT_EMAIL = "support-desk@staff.example.com"
    ONCALL_EMAIL = "oncall@staff.example.com"
    OPERATOR_EMAIL = "security@staff.example.com"
