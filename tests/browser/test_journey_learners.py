"""The administrator imports learners from a CP932 CSV (fixing its errors first, or importing its valid
rows and correcting the refused ones from their download); an invited learner sets a password on a phone
and lands on an empty home; learner pages fit a 360 px screen; the administrator opens a learner's record
(研修・点検の記録) from the list and downloads a certificate PDF from it."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.conftest import PASSWORD
from tests.test_learner_record import history  # noqa: F401 - the record's learner, with a passed delivery

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a quiet river under maple trees"
HEADER = "受講者ID,氏名,メールアドレス,部署,雇用形態,初期パスワード"


def cp932(*lines: str) -> bytes:
    return ("\r\n".join((HEADER, *lines)) + "\r\n").encode("cp932")


def upload(page, data: bytes, invite: bool = False) -> None:
    page.get_by_label("CSVファイル").set_input_files(
        files=[{"name": "受講者一覧.csv", "mimeType": "text/csv", "buffer": data}]
    )
    if invite:
        page.get_by_label("新しく登録する受講者に招待メールを送る").check()
    page.get_by_role("button", name="内容を確認する").click()


def test_import_with_errors_then_corrected_then_invitation_on_a_phone(
    live_server, desktop, phone, world, run_in_app, mailbox
):
    page = desktop
    page.goto(live_server + "/login")
    page.get_by_label("メールアドレス").fill(world["admin_a"].email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("link", name="受講者", exact=True).click()
    page.get_by_role("link", name="CSVで一括登録").click()

    # A file straight from Excel, with two mistakes.
    upload(page, cp932(
        "00101,山田 花子,hanako@example.co.jp,営業部/第一課,正社員,",
        "00102,,,営業部/第二課,社長,shoki-pass-1",
        "00101,重複 太郎,,総務部,正社員,shoki-pass-1",
    ), invite=True)
    expect(page.get_by_role("heading", name="エラー(2 件)")).to_be_visible()
    errors = page.locator("#import-errors tbody tr")
    expect(errors.nth(0)).to_contain_text("3")
    expect(errors.nth(0)).to_contain_text("雇用形態")
    expect(errors.nth(1)).to_contain_text("4")
    expect(errors.nth(1)).to_contain_text("2行目と重複")
    expect(page.get_by_role("button", name="この内容で読み込む")).to_have_count(0)
    page.get_by_role("button", name="やり直す").click()
    expect(page.get_by_text("何も登録していません")).to_be_visible()

    # Corrected and uploaded again.
    upload(page, cp932(
        "00101,山田 花子,hanako@example.co.jp,営業部/第一課,正社員,",
        "00102,,,営業部/第二課,派遣社員,shoki-pass-1",
        "00103,鈴木 次郎,,総務部,正社員,shoki-pass-1",
    ), invite=True)
    expect(page.get_by_text("新しく登録: 3 人")).to_be_visible()
    expect(page.get_by_text("営業部/第一課").first).to_be_visible()
    page.get_by_role("button", name="この内容で読み込む").click()
    expect(page.get_by_text("読み込みました。新規 3 人")).to_be_visible()
    expect(page.get_by_role("link", name="00101")).to_be_visible()  # leading zeros kept

    # The worker sends the invitation over SMTP; the learner opens it from the mailbox on the phone.
    (body,) = mailbox("hanako@example.co.jp")
    path = re.search(r"http://portal\.test(/invitation/\S+)", body).group(1)

    phone.goto(live_server + path)
    expect(phone.get_by_role("heading", name="パスワードの設定")).to_be_visible()
    phone.locator("#new_password").fill(NEW_PASSWORD)
    phone.locator("#confirm_password").fill(NEW_PASSWORD)
    phone.get_by_role("button", name="パスワードを設定して始める").click()
    expect(phone).to_have_url(re.compile(r"/me/$"))
    expect(phone.get_by_role("heading", name="マイページ")).to_be_visible()
    expect(phone.get_by_text("いま取り組むものはありません")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= phone.viewport_size["width"]


def test_import_the_valid_rows_then_correct_the_downloaded_refused_rows(live_server, desktop, world, mailbox):
    page = desktop
    page.goto(live_server + "/login")
    page.get_by_label("メールアドレス").fill(world["admin_a"].email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.goto(live_server + "/org/learners/import")

    upload(page, cp932(
        "00201,山田 花子①,hanako@example.co.jp,営業部/第一課,正社員,",
        "00202,田中 次郎,,営業部/第二課,社長,shoki-pass-1",
        "00203,=1+1,,総務部,正社員,shoki-pass-1",
    ), invite=True)
    expect(page.get_by_role("heading", name="エラー(2 件)")).to_be_visible()
    expect(page.get_by_role("button", name="この内容で読み込む")).to_have_count(0)  # not the whole file
    with page.expect_download() as info:
        page.get_by_role("link", name="エラーのある 2 行をダウンロード").click()
    assert info.value.suggested_filename == "受講者一覧_読み込まなかった行.csv"
    with open(info.value.path(), encoding="utf-8-sig", newline="") as fh:  # noqa: PTH123
        header, *refused = csv.reader(fh)
    assert header == [*HEADER.split(","), "理由"]
    assert [row[0] for row in refused] == ['="00202"', '="00203"']  # Excel keeps them as text
    assert "雇用形態" in refused[0][6] and "数式" in refused[1][6]

    page.get_by_role("button", name="エラーのない 1 行だけ読み込む").click()
    expect(page.get_by_text("エラーのない行を読み込みました。新規 1 人")).to_be_visible()
    expect(page.get_by_role("link", name="読み込まなかった 2 行をダウンロード")).to_be_visible()

    # Corrected as Excel would save it, the reasons still in their column, and imported again.
    refused[0][4], refused[0][5] = "正社員", "shoki-pass-2"
    refused[1][1], refused[1][5] = "佐藤 三郎", "shoki-pass-3"
    corrected = io.StringIO()
    csv.writer(corrected, lineterminator="\r\n").writerows([header, *refused])
    upload(page, corrected.getvalue().encode("cp932"))
    expect(page.get_by_text("新しく登録: 2 人")).to_be_visible()
    expect(page.get_by_text("次の列は読み込みません: 理由")).to_be_visible()
    page.get_by_role("button", name="この内容で読み込む").click()
    expect(page.get_by_text("読み込みました。新規 2 人")).to_be_visible()
    for login_id in ("00201", "00202", "00203"):
        expect(page.get_by_role("link", name=login_id)).to_be_visible()
    expect(page.get_by_text("山田 花子①")).to_be_visible()  # the name as written
    assert len(mailbox("hanako@example.co.jp")) == 1  # invited once, with the valid rows


def test_learner_pages_fit_360_px(live_server, browser, world, make_user):
    make_user("learner", world["org_a"], email=None, login_id="00999", password="shoki-pass-1",
              must_change_password=True)
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        def fits(path: str | None = None) -> None:
            if path:
                page.goto(live_server + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{page.url} is {width}px wide"

        fits(f"/o/{world['org_a'].code}")
        page.get_by_label("受講者ID").fill("00999")
        page.get_by_label("パスワード").fill("shoki-pass-1")
        page.get_by_role("button", name="ログイン").click()
        expect(page).to_have_url(re.compile(r"/password/change$"))
        fits()
        page.locator("#current_password").fill("shoki-pass-1")
        page.locator("#new_password").fill(NEW_PASSWORD)
        page.locator("#confirm_password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="変更する").click()
        expect(page).to_have_url(re.compile(r"/me/$"))
        fits()
        fits("/me/profile")
        fits("/password/change")
    finally:
        context.close()


def test_the_learner_home_works_with_javascript_off(live_server, browser, world):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        page.goto(live_server + "/login")
        page.get_by_label("メールアドレス").fill(world["learner_a"].email)
        page.get_by_label("パスワード").fill(PASSWORD)
        page.get_by_role("button", name="ログイン").click()
        expect(page.get_by_role("heading", name="マイページ")).to_be_visible()
        page.get_by_role("link", name="登録情報を見る").click()
        expect(page.get_by_text("A001")).to_be_visible()
    finally:
        context.close()


def test_the_administrator_opens_a_learners_record_from_the_list(live_server, desktop, world, history):  # noqa: F811
    """記録 太郎 failed then passed 4月の研修 and answered いいえ in October (tests/test_learner_record.py)."""
    page = desktop
    page.goto(live_server + "/login")
    page.get_by_label("メールアドレス").fill(world["admin_a"].email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("link", name="受講者", exact=True).click()
    page.get_by_role("link", name="記録 太郎").click()

    expect(page.get_by_role("heading", name="研修・点検の記録")).to_be_visible()
    april = page.locator("tr", has=page.get_by_role("link", name="4月の研修"))
    expect(april.locator("td[data-label='状態']")).to_have_text("合格")
    expect(april.locator("td[data-label='受験回数']")).to_have_text("2")
    expect(april.locator("td[data-label='最高点']")).to_have_text("100")
    verify = april.get_by_role("link", name=f"確認コード: {history['certificate']}")
    june = page.locator("tr", has=page.get_by_role("link", name="6月の研修"))
    expect(june.locator("td[data-label='状態']")).to_have_text("不合格")
    expect(june.locator("td[data-label='修了証'] a")).to_have_count(0)

    # The record's 修了証 is the PDF itself, with the learner's name on it.
    with page.expect_download() as download:
        april.get_by_role("link", name="修了証 PDF").click()
    assert download.value.suggested_filename == "修了証_00123_記録_太郎.pdf"
    with open(download.value.path(), "rb") as fh:
        body = fh.read()
    assert body.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    assert "記録 太郎 殿" in text and "情報セキュリティ基礎" in text

    october = page.locator("tr", has=page.get_by_role("link", name="10月の点検"))
    expect(october).to_contain_text("施錠当番が不在でした。")
    expect(page.get_by_role("link", name="入館証の携帯を徹底する")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("button", name="CSVでダウンロード").click()
    assert download.value.suggested_filename.startswith("研修・点検の記録_00123_")
    text = open(download.value.path(), encoding="utf-8-sig").read()  # noqa: SIM115 - Playwright's temporary file
    assert "4月の研修" in text and "施錠当番が不在でした。" in text

    verify.click()
    expect(page).to_have_url(re.compile(rf"/verify/{history['certificate']}$"))
    expect(page.get_by_text("記録 太郎")).to_be_visible()
