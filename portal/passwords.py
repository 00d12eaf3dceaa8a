"""Password hashing (argon2id) and the password policy (NIST SP 800-63B)."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from zxcvbn import zxcvbn

from portal.i18n import lazy_gettext as _l

MIN_LENGTH = 12
MAX_LENGTH = 256
# zxcvbn refuses longer input (its matching grows fast with length); the rest of a longer password
# only adds strength, so the first 72 characters are what is judged.
ZXCVBN_MAX_INPUT = 72
_DUMMY_HASH_CACHE: dict[tuple, str] = {}


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_COST"],
        parallelism=cfg["ARGON2_PARALLELISM"],
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. With no hash, still spends the same time (no user oracle)."""
    hasher = _hasher()
    if not password_hash:
        key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
        if key not in _DUMMY_HASH_CACHE:
            _DUMMY_HASH_CACHE[key] = hasher.hash("timing-equaliser")
        password_hash = _DUMMY_HASH_CACHE[key]
        with contextlib.suppress(VerificationError):
            hasher.verify(password_hash, password)
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


_FEEDBACK_JA = {
    "Straight rows of keys are easy to guess": _l("キーボードの並びは推測されやすいです。"),
    "Short keyboard patterns are easy to guess": _l("短いキーボードのパターンは推測されやすいです。"),
    'Repeats like "aaa" are easy to guess': _l("「aaa」のような繰り返しは推測されやすいです。"),
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc"': _l(
        "「abcabcabc」のような繰り返しは推測されやすいです。"
    ),
    "Sequences like abc or 6543 are easy to guess": _l("「abc」や「6543」のような連続は推測されやすいです。"),
    "Recent years are easy to guess": _l("最近の年は推測されやすいです。"),
    "Dates are often easy to guess": _l("日付は推測されやすいです。"),
    "This is a top-10 common password": _l("非常によく使われているパスワードです。"),
    "This is a top-100 common password": _l("非常によく使われているパスワードです。"),
    "This is a very common password": _l("よく使われているパスワードです。"),
    "This is similar to a commonly used password": _l("よく使われているパスワードに似ています。"),
    "A word by itself is easy to guess": _l("単語ひとつだけでは推測されやすいです。"),
    "Names and surnames by themselves are easy to guess": _l("名前だけでは推測されやすいです。"),
    "Common names and surnames are easy to guess": _l("よくある名前は推測されやすいです。"),
}


def password_problems(password: str, user_inputs: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Reasons why ``password`` is refused, in the user's language; empty when it is acceptable.

    No composition rules: length, and a strength estimate that knows the user's own name and email.
    """
    if len(password) < MIN_LENGTH:
        return [str(_l("パスワードは%(n)d文字以上にしてください。", n=MIN_LENGTH))]
    if len(password) > MAX_LENGTH:
        return [str(_l("パスワードは%(n)d文字以内にしてください。", n=MAX_LENGTH))]
    inputs = []
    for value in user_inputs:
        if value:
            inputs.append(value)
            inputs.extend(part for part in value.replace("@", " ").replace(".", " ").split() if part)
    result = zxcvbn(password[:ZXCVBN_MAX_INPUT], user_inputs=inputs)
    if result["score"] >= 3:
        return []
    reasons = [str(_l("推測されやすいパスワードです。長い文や、関係のない単語の組み合わせをお使いください。"))]
    warning = result["feedback"].get("warning") or ""
    if warning in _FEEDBACK_JA:
        reasons.append(str(_FEEDBACK_JA[warning]))
    lowered = password.lower()
    if any(len(v) >= 3 and v.lower() in lowered for v in inputs):
        reasons.append(str(_l("お名前やメールアドレスを含めないでください。")))
    return reasons
