"""Japanese postal addresses and phone numbers as typed into forms: the prefectures, the formats, and the
folding of full-width digits and hyphens. The organization's profile and the application share them."""

import re
import unicodedata

PREFECTURES = (
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
)
POSTAL_CODE = re.compile(r"\d{3}-\d{4}")
PHONE = re.compile(r"0\d{1,4}-?\d{1,4}-?\d{3,4}")


def fold_digits(value):
    """Full-width digits and hyphens as typed on a Japanese keyboard, folded to ASCII."""
    if not value:
        return value
    value = unicodedata.normalize("NFKC", value).strip()
    return re.sub(r"[‐-‒–—―−ー]", "-", value)
