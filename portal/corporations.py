"""What makes a name a corporation's and a 法人番号 valid: the rules the application form and the operator's
organization form share (terms Art. 2-1: corporations only)."""

from __future__ import annotations

import re
import unicodedata

# Legal forms whose name shows a corporation (法人). The terms serve corporations only (Art. 2-1), so a
# 法人名 must contain one of them; a private person's name has none. Matched after NFKC folding.
CORPORATE_FORMS = (
    "株式会社",
    "有限会社",
    "合同会社",
    "合名会社",
    "合資会社",
    "相互会社",
    "一般社団法人",
    "一般財団法人",
    "公益社団法人",
    "公益財団法人",
    "特定非営利活動法人",
    "NPO法人",
    "社会福祉法人",
    "医療法人",
    "学校法人",
    "宗教法人",
    "独立行政法人",
    "地方独立行政法人",
    "国立大学法人",
    "弁護士法人",
    "税理士法人",
    "監査法人",
    "司法書士法人",
    "行政書士法人",
    "社会保険労務士法人",
    "弁理士法人",
    "土地家屋調査士法人",
    "協同組合",
    "信用金庫",
    "信用組合",
    "労働金庫",
)


def normalize_corporate_number(value: str | None) -> str:
    """Full-width digits folded, spaces and hyphens removed."""
    folded = unicodedata.normalize("NFKC", value or "")
    return re.sub(r"[\s\-‐-―−ー]", "", folded)


def corporate_number_valid(number: str) -> bool:
    """The National Tax Agency's rule: 13 digits, the first being 9 - (Σ Pn×Qn mod 9) over the other 12,
    n counted from the right, Qn = 1 for odd n and 2 for even n."""
    if not re.fullmatch(r"\d{13}", number or ""):
        return False
    base = number[1:]
    total = sum(int(digit) * (1 if n % 2 else 2) for n, digit in enumerate(reversed(base), start=1))
    return int(number[0]) == 9 - total % 9


def looks_like_corporation(name: str | None) -> bool:
    folded = re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or ""))
    return any(form in folded for form in CORPORATE_FORMS)
