"""修了証: the certificate page, its PDF for the learner and the organization, and the zip of a delivery.

The PDFs are read back with pypdf: the Japanese text on them is what the learner and the organization get.
"""

from __future__ import annotations

import io
import tracemalloc
import types
import zipfile
from urllib.parse import unquote

import pytest
from bs4 import BeautifulSoup
from flask import has_app_context
from pypdf import PdfReader
from sqlalchemy import select

from portal import certificates
from portal.extensions import db
from portal.models import Assignment, AuditEvent, Department, ManagerDepartment, Role, User
from portal.tenancy import tenant_scope
from tests.clock import jst
from tests.training_helpers import add_course, assignment_of, deliver, take

PASSED_AT = jst(2026, 11, 26, 1, 30)  # 2026-11-25 16:30 UTC: the day in Tokyo is the 26th


def pdf_text(body: bytes) -> str:
    assert body.startswith(b"%PDF-")
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


@pytest.fixture
def passed(world, run_in_app, time_machine):
    """learner_a passed 「情報セキュリティ基礎」 (2026) with 75 points (3 of 4 right, pass mark 70) at PASSED_AT;
    also a delivery of the same course that learner_a has not passed yet."""
    time_machine.move_to(PASSED_AT)

    def make():
        course = add_course(organization_id=None, questions=4, pass_mark=70, title="情報セキュリティ基礎")
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id], title="11月の研修")
        assignment = assignment_of(delivery.id, world["learner_a"].id)
        take(assignment.id, right=3)
        pending = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id], title="12月の研修")
        take(assignment_of(pending.id, world["learner_a"].id).id, right=1)
        return types.SimpleNamespace(
            delivery=delivery.id, assignment=assignment.id, pending_delivery=pending.id,
            pending=assignment_of(pending.id, world["learner_a"].id).id,
            code=db.session.get(Assignment, assignment.id).certificate_code,
        )

    return run_in_app(make)


def test_the_learner_downloads_their_certificate_as_a_japanese_pdf(world, passed, login_as):
    learner = login_as(world["learner_a"])
    response = learner.get(f"/me/training/{passed.assignment}/certificate.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    disposition = unquote(response.headers["Content-Disposition"])
    assert disposition.startswith("attachment;") and "修了証_A001_受講_A.pdf" in disposition
    text = pdf_text(response.get_data())
    for expected in ("修了証", "受講 A 殿", "「情報セキュリティ基礎」（2026年度版）", "修了日: 2026年11月26日",
                     "得点: 75点（合格基準 70点）", "株式会社エー", "発行者", "株式会社ワークストラスト",
                     f"確認コード: {passed.code}", f"確認URL: http://portal.test/verify/{passed.code}"):
        assert expected in text, expected
    assert world["learner_a"].email not in text


def test_the_certificate_page_shows_the_organization_and_issuer_and_prints_on_a4_landscape(
    world, passed, login_as, client
):
    page = login_as(world["learner_a"]).get(f"/me/training/{passed.assignment}/certificate")
    assert page.status_code == 200
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    certificate = soup.select_one("article.certificate").get_text(" ", strip=True)
    for expected in ("修了証", "株式会社エー", "受講 A", "情報セキュリティ基礎", "2026年11月26日", "75点",
                     "株式会社ワークストラスト", passed.code):
        assert expected in certificate, expected
    assert soup.select_one(f'a[href="/me/training/{passed.assignment}/certificate.pdf"]') is not None
    stylesheet = soup.select_one('link[rel="stylesheet"][href*="certificate.css"]')
    assert stylesheet is not None and soup.select("[style]") == [] and soup.select("script:not([src])") == []
    css = client.get(stylesheet["href"]).get_data(as_text=True)
    printed = css[css.index("@media print"):]
    assert "size: A4 landscape" in printed and "body > header" in printed and "display: none" in printed


def test_no_certificate_before_passing_and_none_of_another_learner(world, passed, make_user, run_in_app,
                                                                     login_as):
    learner = login_as(world["learner_a"])
    for url in (f"/me/training/{passed.pending}/certificate", f"/me/training/{passed.pending}/certificate.pdf"):
        response = learner.get(url)
        assert response.status_code == 404 and response.mimetype == "text/html"
        assert "修了証はまだありません" in response.get_data(as_text=True)
    colleague = make_user(Role.LEARNER, world["org_a"], name="同僚 C", login_id="C001")
    other = login_as(colleague)
    for url in (f"/me/training/{passed.assignment}/certificate", f"/me/training/{passed.assignment}/certificate.pdf"):
        response = other.get(url)
        assert response.status_code == 404 and "修了証はまだありません" not in response.get_data(as_text=True)


def test_the_administrator_downloads_a_learners_certificate_from_the_results(world, passed, login_as):
    admin = login_as(world["admin_a"])
    results = BeautifulSoup(admin.get(f"/org/training/{passed.delivery}").get_data(as_text=True), "html.parser")
    listing_link = results.find("a", string=lambda s: s and "修了証（合格者 1人）" in s)
    listing = BeautifulSoup(admin.get(listing_link["href"]).get_data(as_text=True), "html.parser")
    row = next(tr for tr in listing.select("tbody tr") if "受講 A" in tr.get_text())
    assert "A001" in row.get_text() and "75" in row.get_text()
    response = admin.get(row.select_one("a[download]")["href"])
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.get_data())
    assert "受講 A 殿" in text and "株式会社エー" in text and passed.code in text
    refused = admin.get(f"/org/training/assignments/{passed.pending}/certificate.pdf")
    assert refused.status_code == 404 and "修了証はまだありません" in refused.get_data(as_text=True)
    assert login_as(world["admin_b"]).get(f"/org/training/assignments/{passed.assignment}/certificate.pdf"
                                          ).status_code == 404


def test_a_manager_downloads_certificates_of_their_departments_only(world, passed, make_user, run_in_app,
                                                                    login_as):
    def departments():
        mine = Department(organization_id=world["org_a"].id, name="担当部", depth=1)
        db.session.add(mine)
        db.session.flush()
        db.session.add(ManagerDepartment(organization_id=world["org_a"].id, user_id=world["manager_a"].id,
                                         department_id=mine.id))
        return mine.id

    mine = run_in_app(departments)
    manager = login_as(world["manager_a"])
    url = f"/org/training/assignments/{passed.assignment}/certificate.pdf"
    assert manager.get(url).status_code == 404  # learner_a is in none of the manager's departments
    listing = manager.get(f"/org/training/{passed.delivery}/certificates").get_data(as_text=True)
    assert "受講 A" not in listing and "一括ダウンロード" not in listing
    run_in_app(lambda: setattr(db.session.get(User, world["learner_a"].id), "department_id", mine))
    assert "受講 A 殿" in pdf_text(manager.get(url).get_data())
    assert "受講 A" in manager.get(f"/org/training/{passed.delivery}/certificates").get_data(as_text=True)
    assert manager.get(f"/org/training/{passed.delivery}/certificates.zip").status_code == 403


def test_the_issuer_is_a_setting(app, world, passed, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "CERTIFICATE_ISSUER", "セキュトレ運営事務局")
    text = pdf_text(login_as(world["learner_a"]).get(f"/me/training/{passed.assignment}/certificate.pdf").get_data())
    assert "セキュトレ運営事務局" in text and "株式会社ワークストラスト" not in text


def test_hostile_names_still_give_a_certificate(app):
    """Control characters and a lone surrogate do not break the PDF (the fonts' encoding refuses surrogates);
    a name too long for the page is made smaller, then cut."""
    assert certificates.printable("山田\x00太郎\n\ud800") == "山田 太郎 ?"
    with app.app_context():
        body = certificates.render_pdf(certificates.Certificate(
            1, "ABCD-EFGH-JKLM", "長い名前" * 40 + "\x07", None, "株式会社" * 60, "講座" * 150, 2026,
            PASSED_AT, None, 100,
        ))
    text = pdf_text(body)
    assert "長い名前長い名前" in text and "…" in text and "得点" not in text


def _many_passed(app, world, run_in_app, learners: int) -> int:
    def make():
        db.session.add_all([
            User(role=Role.LEARNER, organization_id=world["org_a"].id, login_id=f"P{i:04d}", name=f"合格 {i}",
                 email=f"p{i}@example.com")
            for i in range(learners)
        ])
        db.session.flush()
        course = add_course(organization_id=None, questions=1, title="標的型メール訓練")
        delivery = deliver(world["admin_a"], course.id, title="全社研修")
        with tenant_scope(world["org_a"].id):
            ids = db.session.scalars(select(User.id).where(User.login_id.like("P%"))).all()
        for learner_id in ids:
            take(assignment_of(delivery.id, learner_id).id)
        return delivery.id

    return run_in_app(make)


def test_the_zip_of_a_delivery_streams_one_pdf_at_a_time_and_is_audited(app, world, run_in_app, login_as):
    learners = 200
    delivery_id = _many_passed(app, world, run_in_app, learners)
    admin = login_as(world["admin_a"])
    with app.app_context():  # fonts and character maps are loaded once per process: not part of the measure
        certificates.render_pdf(certificates.Certificate(1, "X", "X", None, "X", "X", 2026, PASSED_AT, 1, 1))
    response = admin.get(f"/org/training/{delivery_id}/certificates.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "修了証_全社研修_" in unquote(response.headers["Content-Disposition"])
    # Streamed: the body is an iterator, drawn and zipped while it is read (no Content-Length up front).
    assert response.is_streamed and not isinstance(response.response, list | tuple | bytes)
    assert "Content-Length" not in response.headers
    # Memory is traced over a window of ten certificates half-way (tracing every allocation makes drawing a
    # hundred times slower): what stays allocated must not grow with each certificate sent.
    chunks, window = [], {}
    for chunk in response.response:
        chunks.append(chunk)
        if len(chunks) == 100:
            tracemalloc.start()
            window["start"] = tracemalloc.get_traced_memory()[0]
        elif len(chunks) == 110:
            window["end"], window["peak"] = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    sizes = [len(c) for c in chunks]
    body = b"".join(chunks)
    # One chunk per certificate (and the central directory), each about one PDF.
    assert len(sizes) == learners + 1 and max(sizes) < 64 * 1024
    # Per certificate the zip keeps its central directory entry (about 1 KB); a PDF kept in memory would
    # add 3 KB or more. The chunks this test keeps are not counted.
    grown = window["end"] - window["start"] - sum(sizes[100:110])
    assert grown / 10 < 2048, window
    assert window["peak"] - window["start"] < 2 * 1024 * 1024, window
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = archive.namelist()
        assert len(names) == len(set(names)) == learners
        assert "修了証_P0007_合格_7.pdf" in names
        text = pdf_text(archive.read("修了証_P0007_合格_7.pdf"))
    assert "合格 7 殿" in text and "標的型メール訓練" in text and "株式会社エー" in text

    def audited():
        return [(e.actor_id, e.target_id, e.details) for e in
                db.session.scalars(select(AuditEvent).where(AuditEvent.action == "training.certificates_exported"))]

    assert run_in_app(audited) == [(world["admin_a"].id, str(delivery_id), {"count": learners, "part": 1,
                                                                            "parts": 1})]


def test_a_download_stopped_half_way_leaves_no_context_behind(app, world, run_in_app, login_as):
    """Each chunk is made in an app context of its own: none stays pushed between chunks, and closing the
    download early (a browser cancelled) ends cleanly."""
    delivery_id = _many_passed(app, world, run_in_app, 5)
    response = login_as(world["admin_a"]).get(f"/org/training/{delivery_id}/certificates.zip")
    chunks = iter(response.response)
    assert next(chunks).startswith(b"PK") and next(chunks)
    assert not has_app_context()
    response.close()
    assert not has_app_context()


def test_a_large_delivery_downloads_in_parts(app, world, run_in_app, login_as, monkeypatch):
    """Above ZIP_PART_SIZE certificates the zip comes in parts, so that no download outlasts the server's
    time for one request; each part is audited."""
    monkeypatch.setattr(certificates, "ZIP_PART_SIZE", 2)
    delivery_id = _many_passed(app, world, run_in_app, 5)
    admin = login_as(world["admin_a"])
    results = BeautifulSoup(admin.get(f"/org/training/{delivery_id}").get_data(as_text=True), "html.parser")
    links = [a["href"] for a in results.find_all("a", string=lambda s: s and s.startswith("修了証 ZIP"))]
    assert [a.get_text() for a in results.find_all("a", string=lambda s: s and s.startswith("修了証 ZIP"))] == [
        "修了証 ZIP（1〜2人目）", "修了証 ZIP（3〜4人目）", "修了証 ZIP（5〜5人目）"]
    seen = []
    for link, count in zip(links, (2, 2, 1), strict=True):
        response = admin.get(link)
        assert response.status_code == 200
        with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
            assert len(archive.namelist()) == count
            seen += archive.namelist()
    assert sorted(seen) == [f"修了証_P000{i}_合格_{i}.pdf" for i in range(5)]
    assert "_5-5.zip" in unquote(admin.get(links[2]).headers["Content-Disposition"])
    beyond = admin.get(f"/org/training/{delivery_id}/certificates.zip?part=4")
    assert beyond.status_code == 303
    assert "このZIPファイルはありません" in admin.get(beyond.headers["Location"]).get_data(as_text=True)
    assert admin.get(f"/org/training/{delivery_id}/certificates.zip?part=x").status_code == 200  # the first

    def parts():
        return [e.details for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "training.certificates_exported").order_by(AuditEvent.id))]

    assert run_in_app(parts) == [{"count": 2, "part": 1, "parts": 3}, {"count": 2, "part": 2, "parts": 3},
                                 {"count": 1, "part": 3, "parts": 3}, {"count": 1, "part": 3, "parts": 3},
                                 {"count": 2, "part": 1, "parts": 3}]


def test_no_zip_without_a_passed_learner(world, passed, run_in_app, login_as):
    admin = login_as(world["admin_a"])
    response = admin.get(f"/org/training/{passed.pending_delivery}/certificates.zip")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/org/training/{passed.pending_delivery}")
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "ダウンロードできる修了証はありません" in page
    assert run_in_app(lambda: db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "training.certificates_exported")).all()) == []


def test_the_certificate_list_pages_and_survives_a_bad_page_number(app, world, run_in_app, login_as):
    delivery_id = _many_passed(app, world, run_in_app, 60)
    admin = login_as(world["admin_a"])
    first = BeautifulSoup(admin.get(f"/org/training/{delivery_id}/certificates").get_data(as_text=True),
                          "html.parser")
    assert len(first.select("tbody tr")) == 50 and "合格者 60人" in first.get_text()
    following = first.select_one('a[rel="next"]')["href"]
    assert following == f"/org/training/{delivery_id}/certificates?page=2"
    second = BeautifulSoup(admin.get(following).get_data(as_text=True), "html.parser")
    assert len(second.select("tbody tr")) == 10
    for page in ("abc", "-1", "9" * 40):
        assert admin.get(f"/org/training/{delivery_id}/certificates?page={page}").status_code == 200
