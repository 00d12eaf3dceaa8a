"""A learner's record (研修・点検の記録, issue #19 item 2): every delivery with its status, attempts, best score,
date passed and certificate; every inspection sheet with its いいえ answers and comments; the corrective
actions about the learner. Managers reach their departments' learners only, another organization's learner
answers 404, the CSV parses back, a learner without history gets an empty state, and the page costs the
same statements however long the history."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from sqlalchemy import event, select

from portal.blueprints.inspections.results import services as results
from portal.blueprints.learners.services import RECORD_HEADER
from portal.clock import TOKYO, today_in_tokyo
from portal.extensions import db
from portal.models import Assignment, AuditEvent, Delivery, InspectionAnswer, Role, RoundStatus, User
from portal.tenancy import tenant_scope
from tests.inspection_results_helpers import department_tree, launch, make_edition, make_items, make_round, save, submit
from tests.learner_helpers import assign_manager
from tests.test_query_counts import statements_while_rendering
from tests.training_helpers import add_course, assignment_of, deliver, take

SEP, OCT, NOV, DEC = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)
FORMULA_COMMENT = '=HYPERLINK("http://evil.example")入館証を忘れた'


def _open_action(org_id: int, admin_id: int, answer_id: int, owner_id: int, title: str, status: str = "open") -> int:
    with tenant_scope(org_id):
        action = results.open_action(
            db.session.get(InspectionAnswer, answer_id),
            results.ActionInput(owner_id=owner_id, due_on=today_in_tokyo() + timedelta(days=7), status=status,
                                title=title),
            by=db.session.get(User, admin_id),
        )
        return action.id


@pytest.fixture
def history(world, make_user, run_in_app):
    """記録 太郎 (00123, 営業部, which manager_a looks after; in 総務部 in September) and 総務 花子 (総務部).

    Training (one course, pass mark 100): 4月 failed at 50 then passed at 100; 5月 left half-way; 6月 failed
    at 0; 7月 not started. 総務 花子 has a delivery of her own.
    Inspections: September submitted with one いいえ (answered in 総務部), October submitted with two いいえ (one
    comment looks like a formula), November saved but not submitted (a いいえ that is not final yet), December
    not started. Corrective actions: September's いいえ (総務部, owned by the admin), October's first いいえ (営業部,
    owned by manager_a, 対応中), and one about 総務 花子's answer.
    """
    org, admin, manager = world["org_a"], world["admin_a"], world["manager_a"]
    deps = run_in_app(lambda: {key: d.id for key, d in department_tree(org.id).items()})
    assign_manager(run_in_app, manager, deps["sales"])
    learner = make_user(Role.LEARNER, org, name="記録 太郎", login_id="00123", email="kiroku@a.example",
                        department_id=deps["sales"])
    other = make_user(Role.LEARNER, org, name="総務 花子", login_id="S001", email="soumu@a.example",
                      department_id=deps["general"])

    def training():
        course = add_course(organization_id=org.id, questions=4, title="情報セキュリティ基礎")
        db.session.flush()
        ids = {}
        for title in ("4月の研修", "5月の研修", "6月の研修", "7月の研修"):
            ids[title] = deliver(admin, course.id, learner_ids=[learner.id], title=title).id
        ids["総務の研修"] = deliver(admin, course.id, learner_ids=[other.id], title="総務の研修").id
        db.session.commit()
        april = assignment_of(ids["4月の研修"], learner.id).id
        take(april, right=2)
        take(april)
        take(assignment_of(ids["5月の研修"], learner.id).id, right=1, finish=False)
        take(assignment_of(ids["6月の研修"], learner.id).id, right=0)
        take(assignment_of(ids["総務の研修"], other.id).id)
        return ids

    def inspections():
        i1, i2, i3 = make_items(org.id, [("入退管理", "入館証を身につけている。"),
                                         ("入退管理", "最後に退室する人が施錠している。"),
                                         ("PCの利用", "離席時に画面をロックしている。")])
        edition = make_edition(org.id, [i1, i2, i3], title="自社点検")
        items = [i1.id, i2.id, i3.id]
        sep = make_round(org.id, edition.id, SEP, items, title="9月の点検")
        sheets = launch(sep, [(learner.id, deps["general"]), other])
        (_y, sep_no, _y3) = submit(sheets[learner.id], {i1.id: "yes", i2.id: ("no", "鍵を持ち帰っていました。"),
                                                          i3.id: "yes"})
        (other_no, _y2, _y3) = submit(sheets[other.id], {i1.id: ("no", "花子のコメント"), i2.id: "yes", i3.id: "yes"})
        october = make_round(org.id, edition.id, OCT, items, title="10月の点検")
        sheets = launch(october, [learner, other])
        (oct_no1, oct_no2, _na) = submit(sheets[learner.id], {i1.id: ("no", FORMULA_COMMENT),
                                                              i2.id: ("no", "施錠当番が不在でした。"), i3.id: "na"})
        november = make_round(org.id, edition.id, NOV, items, status=RoundStatus.OPEN, title="11月の点検")
        save(launch(november, [learner])[learner.id], {i1.id: ("no", "下書きのコメント")})
        december = make_round(org.id, edition.id, DEC, items, status=RoundStatus.OPEN, title="12月の点検")
        launch(december, [learner])
        db.session.commit()
        return {
            "sep_action": _open_action(org.id, admin.id, sep_no.id, admin.id, "鍵の持ち帰りをやめる"),
            "oct_action": _open_action(org.id, admin.id, oct_no1.id, manager.id, "入館証の携帯を徹底する",
                                       status="in_progress"),
            "other_action": _open_action(org.id, admin.id, other_no.id, admin.id, "花子さんの是正処置"),
            "rounds": {"sep": sep.id, "oct": october.id, "nov": november.id, "dec": december.id},
        }

    deliveries = run_in_app(training)
    found = run_in_app(inspections)

    def passed():
        a = db.session.scalar(select(Assignment).where(Assignment.delivery_id == deliveries["4月の研修"],
                                                       Assignment.learner_id == learner.id))
        return a.passed_at, a.certificate_code, a.id

    passed_at, code, assignment_id = run_in_app(passed)
    return {"learner": learner, "other": other, "deliveries": deliveries, "passed_at": passed_at,
            "certificate": code, "assignment": assignment_id, "deps": deps, **found}


def _record(client, learner) -> BeautifulSoup:
    response = client.get(f"/org/learners/{learner.id}/record")
    assert response.status_code == 200
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _rows(soup: BeautifulSoup, heading_id: str) -> list[dict[str, object]]:
    """The section's table as {column label: cell} per row."""
    section = soup.find("section", attrs={"aria-labelledby": heading_id})
    return [{td["data-label"]: td for td in tr.find_all("td")} for tr in section.select("tbody tr")]


def _text(cell) -> str:
    return " ".join(cell.get_text(" ", strip=True).split())


def test_the_record_shows_every_delivery_sheet_and_action_of_the_learner(world, history, login_as):
    soup = _record(login_as(world["admin_a"]), history["learner"])
    assert "記録 太郎" in soup.h1.get_text()

    training = {_text(row["配信"]): row for row in _rows(soup, "record-training")}
    assert set(training) == {"4月の研修", "5月の研修", "6月の研修", "7月の研修"}  # not 総務 花子's
    summary = {title: (_text(r["状態"]), _text(r["受験回数"]), _text(r["最高点"])) for title, r in training.items()}
    assert summary == {"4月の研修": ("合格", "2", "100"), "5月の研修": ("中断", "0", "—"),
                       "6月の研修": ("不合格", "1", "0"), "7月の研修": ("未受講", "0", "—")}
    april = training["4月の研修"]
    assert _text(april["合格日"]) == history["passed_at"].astimezone(TOKYO).strftime("%Y/%m/%d")
    pdf, verify = april["修了証"].find_all("a")
    assert pdf["href"] == f"/org/training/assignments/{history['assignment']}/certificate.pdf"
    assert pdf.has_attr("download")
    assert verify["href"] == f"/verify/{history['certificate']}"
    assert april["配信"].a["href"] == f"/org/training/{history['deliveries']['4月の研修']}"
    assert all(training[t]["修了証"].a is None for t in ("5月の研修", "6月の研修", "7月の研修"))

    sheets = {_text(row["点検回"]): row for row in _rows(soup, "record-inspections")}
    assert list(sheets) == ["12月の点検", "11月の点検", "10月の点検", "9月の点検"]  # the latest month first
    assert {t: _text(r["状態"]) for t, r in sheets.items()} == {
        "12月の点検": "未回答", "11月の点検": "回答中", "10月の点検": "提出済", "9月の点検": "提出済"}
    assert _text(sheets["9月の点検"]["点検月"]) == "2026年9月"
    october = [_text(li) for li in sheets["10月の点検"]["「いいえ」の回答とコメント"].find_all("li")]
    assert october == [f"入退管理 入館証を身につけている。 {FORMULA_COMMENT} 是正処置: 対応中",
                       "入退管理 最後に退室する人が施錠している。 施錠当番が不在でした。"]
    assert [_text(li) for li in sheets["9月の点検"]["「いいえ」の回答とコメント"].find_all("li")] == [
        "入退管理 最後に退室する人が施錠している。 鍵を持ち帰っていました。 是正処置: 未着手"]
    # A sheet saved but not submitted may still change: its いいえ is not on the record.
    assert _text(sheets["11月の点検"]["「いいえ」の回答とコメント"]) == "—"
    assert "下書きのコメント" not in soup.get_text() and "花子のコメント" not in soup.get_text()

    actions = {_text(row["是正処置"]): row for row in _rows(soup, "record-actions")}
    assert list(actions) == ["入館証の携帯を徹底する", "鍵の持ち帰りをやめる"]
    october_action = actions["入館証の携帯を徹底する"]
    assert (_text(october_action["状況"]), _text(october_action["担当者"]), _text(october_action["点検月"])) == (
        "対応中", "課長 A", "2026年10月")
    assert october_action["是正処置"].a["href"] == f"/org/inspections/actions/{history['oct_action']}"
    assert actions["鍵の持ち帰りをやめる"]["是正処置"].a["href"] == f"/org/inspections/actions/{history['sep_action']}"


def test_a_manager_reads_the_records_of_their_departments_learners_only(world, history, login_as):
    manager = login_as(world["manager_a"])
    soup = _record(manager, history["learner"])
    actions = {_text(row["是正処置"]): row for row in _rows(soup, "record-actions")}
    # The whole record follows the learner; the September action (総務部, not the manager's) is shown but
    # not linked, since its page is not theirs to open.
    assert set(actions) == {"入館証の携帯を徹底する", "鍵の持ち帰りをやめる"}
    assert actions["入館証の携帯を徹底する"]["是正処置"].a is not None
    assert actions["鍵の持ち帰りをやめる"]["是正処置"].a is None
    # The certificate link of the record is one the manager may follow: the PDF of this learner.
    training = {_text(row["配信"]): row for row in _rows(soup, "record-training")}
    pdf = manager.get(training["4月の研修"]["修了証"].a["href"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "記録 太郎" in "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    other = history["other"].id
    assert manager.get(f"/org/learners/{other}/record").status_code == 404
    assert manager.get(f"/org/learners/{other}/record.csv").status_code == 404


def test_another_organizations_learner_answers_404(world, history, login_as):
    admin_b = login_as(world["admin_b"])
    learner = history["learner"].id
    assert admin_b.get(f"/org/learners/{learner}/record").status_code == 404
    assert admin_b.get(f"/org/learners/{learner}/record.csv").status_code == 404
    admin_a = login_as(world["admin_a"])
    assert admin_a.get(f"/org/learners/{world['learner_b'].id}/record").status_code == 404
    assert admin_a.get(f"/org/learners/{world['admin_a'].id}/record").status_code == 404  # not a learner


def test_the_csv_parses_back_with_every_row_and_the_download_is_audited(world, history, login_as, run_in_app):
    response = login_as(world["admin_a"]).get(f"/org/learners/{history['learner'].id}/record.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body
    header, *rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert tuple(header) == RECORD_HEADER
    records = [dict(zip(header, row, strict=True)) for row in rows]
    assert {r["受講者ID"] for r in records} == {'="00123"'}  # kept as text by Excel
    assert {r["氏名"] for r in records} == {"記録 太郎"}

    training = {r["名称"]: r for r in records if r["種別"] == "研修"}
    assert set(training) == {"4月の研修", "5月の研修", "6月の研修", "7月の研修"}
    april = training["4月の研修"]
    assert (april["状態"], april["受験回数"], april["最高点"], april["修了証コード"]) == (
        "合格", "2", "100", history["certificate"])
    assert april["完了日時"] == history["passed_at"].astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")
    assert april["講座・点検項目"] == "情報セキュリティ基礎（2026年度版）"
    assert (training["6月の研修"]["状態"], training["6月の研修"]["最高点"]) == ("不合格", "0")
    assert (training["7月の研修"]["状態"], training["7月の研修"]["最高点"], training["7月の研修"]["完了日時"]) == (
        "未受講", "", "")

    sheets = [(r["時期"], r["名称"], r["状態"], r["回答"], r["講座・点検項目"], r["コメント"])
              for r in records if r["種別"] == "点検"]
    assert sheets == [
        ("2026-12", "12月の点検", "未回答", "", "", ""),
        ("2026-11", "11月の点検", "回答中", "", "", ""),
        # The formula-looking comment is neutralised (a leading apostrophe), nothing else is touched.
        ("2026-10", "10月の点検", "提出済", "いいえ", "入館証を身につけている。", "'" + FORMULA_COMMENT),
        ("2026-10", "10月の点検", "提出済", "いいえ", "最後に退室する人が施錠している。", "施錠当番が不在でした。"),
        ("2026-09", "9月の点検", "提出済", "いいえ", "最後に退室する人が施錠している。", "鍵を持ち帰っていました。"),
    ]
    actions = [(r["名称"], r["状態"], r["担当者"], r["時期"]) for r in records if r["種別"] == "是正処置"]
    assert actions == [("入館証の携帯を徹底する", "対応中", "課長 A", "2026-10"),
                       ("鍵の持ち帰りをやめる", "未着手", "管理 A", "2026-09")]

    def audited():
        return [(e.action, e.target_id, e.actor_id, e.details) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "learners.record_exported"))]

    assert run_in_app(audited) == [("learners.record_exported", str(history["learner"].id), world["admin_a"].id,
                                    {"format": "csv"})]


def test_the_tsv_has_the_same_rows(world, history, login_as):
    admin = login_as(world["admin_a"])
    url = f"/org/learners/{history['learner'].id}/record"
    as_csv = list(csv.reader(io.StringIO(admin.get(url + ".csv").get_data().decode("utf-8-sig"))))
    as_tsv = list(csv.reader(io.StringIO(admin.get(url + ".tsv").get_data().decode("utf-8-sig")), delimiter="\t"))
    assert as_tsv == as_csv and len(as_csv) == 1 + 4 + 5 + 2


def test_a_learner_without_history_gets_an_empty_state(world, login_as):
    admin = login_as(world["admin_a"])
    soup = _record(admin, world["learner_a"])
    empty = soup.select_one("section.empty-state")
    assert "まだ研修の配信も点検の依頼もありません" in empty.get_text()
    assert soup.find("table") is None
    assert soup.find("a", href=f"/org/learners/{world['learner_a'].id}/record.csv") is not None
    body = admin.get(f"/org/learners/{world['learner_a'].id}/record.csv").get_data().decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(body))) == [list(RECORD_HEADER)]


def test_the_record_is_reached_from_the_learners_list_the_learner_and_the_delivery_results(world, history,
                                                                                            login_as):
    admin = login_as(world["admin_a"])
    record = f"/org/learners/{history['learner'].id}/record"
    listing = BeautifulSoup(admin.get("/org/learners/").get_data(as_text=True), "html.parser")
    assert listing.find("a", href=record).get_text(strip=True) == "記録 太郎"
    learner_page = BeautifulSoup(admin.get(f"/org/learners/{history['learner'].id}").get_data(as_text=True),
                                 "html.parser")
    assert learner_page.find("a", href=record).get_text(strip=True) == "研修・点検の記録"
    # Delivery results list who has not passed yet: 5月 was left half-way.
    results = BeautifulSoup(admin.get(f"/org/training/{history['deliveries']['5月の研修']}").get_data(as_text=True),
                            "html.parser")
    assert results.find("a", href=record).get_text(strip=True) == "記録 太郎"


def _statements(app, client, url: str) -> int:
    seen = []

    def count(*_args):
        seen.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


@pytest.mark.parametrize("who", ["admin_a", "manager_a"])
def test_the_record_costs_the_same_statements_for_a_short_and_a_long_history(app, world, history, login_as,
                                                                             make_user, who):
    """記録 太郎's long history against a newcomer's single delivery in the same department: same count, and
    no statement runs while the template renders."""
    newcomer = make_user(Role.LEARNER, world["org_a"], name="新人", login_id="N001", email="new@a.example",
                         department_id=history["deps"]["sales"])
    with app.app_context(), tenant_scope(world["org_a"].id):
        course_id = db.session.get(Delivery, history["deliveries"]["4月の研修"]).course_id
        deliver(world["admin_a"], course_id, learner_ids=[newcomer.id], title="新人研修")
        db.session.commit()
    client = login_as(world[who])
    short, long = (f"/org/learners/{u.id}/record" for u in (newcomer, history["learner"]))
    client.get(short)  # what a process caches once (the translations)
    assert _statements(app, client, short) == _statements(app, client, long)
    with statements_while_rendering(app) as (_seen, in_templates):
        assert client.get(long).status_code == 200
    assert in_templates == []
