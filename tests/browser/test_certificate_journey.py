"""修了証: the administrator goes from a delivery's results to a learner's certificate and downloads its PDF,
then the zip of them all; the learner reads theirs on a 360 px phone, downloads it and prints it on one A4
landscape page."""

from __future__ import annotations

import io
import zipfile

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.browser.helpers import pass_second_step_if_asked
from tests.conftest import PASSWORD
from tests.training_helpers import add_course, assignment_of, deliver, take

pytestmark = pytest.mark.browser


def pdf_text(body: bytes) -> str:
    assert body.startswith(b"%PDF-")
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    pass_second_step_if_asked(page)


@pytest.fixture
def passed(world, run_in_app, make_user):
    """「情報セキュリティ基礎」 delivered as 11月の研修 to learner_a (passed) and a colleague (not yet)."""
    colleague = make_user(world["learner_a"].role, world["org_a"], name="同僚 C", login_id="C001")

    def make():
        course = add_course(organization_id=None, questions=2, pass_mark=50, title="情報セキュリティ基礎")
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id, colleague.id],
                           title="11月の研修")
        assignment = assignment_of(delivery.id, world["learner_a"].id)
        take(assignment.id)
        return assignment.id

    return run_in_app(make)


def test_the_administrator_downloads_a_learners_certificate_from_the_delivery_results(live_server, desktop,
                                                                                      world, passed):
    admin = desktop
    sign_in(admin, live_server, world["admin_a"].email)
    admin.get_by_role("link", name="研修", exact=True).click()
    admin.get_by_role("link", name="11月の研修").click()
    expect(admin.get_by_role("heading", name="11月の研修")).to_be_visible()
    admin.get_by_role("button", name="修了証（合格者 1人）").click()
    expect(admin.get_by_text("合格者 1人")).to_be_visible()
    expect(admin.get_by_text("同僚 C")).to_have_count(0)

    with admin.expect_download() as info:
        admin.get_by_role("link", name="受講 Aの修了証 PDF").click()
    download = info.value
    assert download.suggested_filename == "修了証_A001_受講_A.pdf"
    with open(download.path(), "rb") as fh:
        text = pdf_text(fh.read())
    assert "受講 A 殿" in text and "「情報セキュリティ基礎」（2026年度版）" in text and "株式会社エー" in text

    admin.get_by_role("link", name="配信の結果へ戻る").click()
    with admin.expect_download() as info:
        admin.get_by_role("button", name="修了証を一括ダウンロード（ZIP）").click()
    with open(info.value.path(), "rb") as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as archive:
        assert archive.namelist() == ["修了証_A001_受講_A.pdf"]
        assert "受講 A 殿" in pdf_text(archive.read("修了証_A001_受講_A.pdf"))


def test_the_learner_reads_downloads_and_prints_their_certificate(live_server, phone, desktop, world, passed):
    page = phone
    page.set_viewport_size({"width": 360, "height": 780})
    sign_in(page, live_server, world["learner_a"].email)
    page.goto(f"{live_server}/me/training/{passed}/certificate")
    expect(page.get_by_role("heading", name="修了証")).to_be_visible()
    expect(page.locator("article.certificate")).to_contain_text("株式会社エー")
    expect(page.locator("article.certificate")).to_contain_text("株式会社ワークストラスト")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    with page.expect_download() as info:
        page.get_by_role("button", name="PDFをダウンロード").click()
    with open(info.value.path(), "rb") as fh:
        assert "受講 A 殿" in pdf_text(fh.read())

    # Printed: the certificate alone, on one A4 landscape page (the print stylesheet's @page).
    printer = desktop
    sign_in(printer, live_server, world["learner_a"].email)
    printer.goto(f"{live_server}/me/training/{passed}/certificate")
    printer.emulate_media(media="print")
    expect(printer.locator("header.site-header")).to_be_hidden()
    expect(printer.locator(".certificate-actions")).to_be_hidden()
    expect(printer.locator("article.certificate")).to_be_visible()
    printed = PdfReader(io.BytesIO(printer.pdf(prefer_css_page_size=True, print_background=True)))
    assert len(printed.pages) == 1
    width, height = float(printed.pages[0].mediabox.width), float(printed.pages[0].mediabox.height)
    assert abs(width - 841.9) < 2 and abs(height - 595.3) < 2  # A4 landscape, in points
    text = printed.pages[0].extract_text()
    assert "修了証" in text and "ログアウト" not in text and "PDFをダウンロード" not in text
