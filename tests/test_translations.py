"""Every message in the code has its English translation (`make messages`, then translate the new ones)."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from tests.conftest import BACKEND_INDEPENDENT

pytestmark = BACKEND_INDEPENDENT

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "portal" / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def test_every_message_in_the_code_has_english(tmp_path):
    extracted = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
         "-o", str(extracted), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with extracted.open("rb") as fh:
        in_code = {m.id for m in read_po(fh) if m.id}
    assert len(in_code) > 500, "extraction found almost nothing: check babel.cfg"
    with CATALOG.open("rb") as fh:
        english = {m.id: m for m in read_po(fh) if m.id}
    missing = sorted(
        str(i) for i in in_code if i not in english or not english[i].string or english[i].fuzzy
    )
    assert missing == [], f"{len(missing)} messages lack English; run `make messages` and translate: {missing[:5]}"
