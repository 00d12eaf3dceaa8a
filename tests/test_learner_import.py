"""CSV import straight from Excel: encodings, headers, normalisation, preview, confirm, cancel."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.accounts import ADDRESS_UNAVAILABLE
from portal.blueprints.learners import imports
from portal.extensions import db
from portal.models import AuditEvent, Department, ImportBatch, ImportStatus, OutboxMessage, User
from portal.tenancy import tenant_scope
from tests.learner_helpers import (
    actions,
    batch_id_from,
    csv_bytes,
    learners,
    post_form,
    upload,
)

HEADER_JA = ["受講者ID", "氏名", "メールアドレス", "部署", "雇用形態", "初期パスワード"]
LIMIT = 5 * 1024 * 1024


def read(data: bytes) -> imports.ReadResult:
    return imports.read_csv(data, max_bytes=LIMIT)


# --- reading the file -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "bom", "found"),
    [("cp932", False, "Shift_JIS"), ("utf-8", False, "UTF-8"), ("utf-8", True, "UTF-8 (BOM)")],
)
def test_excel_encodings_are_detected(encoding, bom, found):
    result = read(csv_bytes([HEADER_JA, ["00123", "山田 太郎", "", "営業部", "正社員", ""]], encoding, bom))
    assert result.encoding == found
    assert result.rows[0]["login_id"] == "00123"  # leading zeros kept
    assert result.rows[0]["name"] == "山田 太郎"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("受講者ID\r\nA1\r\n".encode("utf-16"), "UTF-16"),
        (b"login_id\r\nA1\x00\x01\x02\r\n", "バイナリ"),
        (b"PK\x03\x04" + b"\x00" * 40, "Excelのブック形式"),
        (b"login_id\r\n\x85\xff\xfe\r\n", "文字コードを判別できません"),
        (b"login_id\r\nA\x1b[31m\r\n", "制御文字"),
        (b"", "空"),
        (csv_bytes([["氏名"], ["山田"]]), "受講者ID"),
        (csv_bytes([["受講者ID", "login_id"], ["1", "2"]]), "2回"),
    ],
)
def test_bad_files_get_a_clear_message(data, message):
    with pytest.raises(imports.ImportFileError) as err:
        read(data)
    assert message in str(err.value.message)


def test_size_limit_is_checked():
    with pytest.raises(imports.ImportFileError) as err:
        imports.read_csv(csv_bytes([["login_id"], ["a" * 60]]), max_bytes=10)
    assert "大きすぎます" in str(err.value.message)


def test_english_headers_and_full_width_ids_and_addresses_are_normalised_names_kept_as_written():
    data = csv_bytes(
        [
            ["Login_ID", "Name", "E-mail", "Department", "Employment_Type", "Password", "memo"],
            ["０１２３", " 山田\u3000太郎① ", "ＹＡＭＡＤＡ@Example.co.jp", "営業部／第一課", "ﾊﾟｰﾄ・ｱﾙﾊﾞｲﾄ", "", "x"],
        ],
        "utf-8",
    )
    result = read(data)
    assert result.errors == []
    row = result.rows[0]
    assert row["login_id"] == "0123"
    assert row["name"] == "山田\u3000太郎①"  # only the spaces around it go: ① and the full-width space stay
    assert row["email"] == "yamada@example.co.jp"
    assert row["department"] == "営業部/第一課"  # a full-width slash still separates the levels
    assert row["employment_type"] == "part_time"
    assert result.ignored_columns == ["memo"]


def test_names_and_departments_keep_full_width_letters_and_circled_digits():
    result = read(csv_bytes([["受講者ID", "氏名", "部署"], ["A1", "ＡＢＣ商事 ﾀﾛｳ②", "第２営業部/ＩＴ課"]], "utf-8"))
    assert result.errors == []
    assert result.rows[0]["name"] == "ＡＢＣ商事 ﾀﾛｳ②"
    assert result.rows[0]["department"] == "第２営業部/ＩＴ課"


def test_text_literal_from_excel_keeps_the_id():
    result = read(csv_bytes([["受講者ID"], ['"=""00042"""']], "utf-8"))
    assert result.rows[0]["login_id"] == "00042"


def test_errors_are_reported_by_row_and_column():
    data = csv_bytes(
        [
            HEADER_JA,
            ["A1", '"=HYPERLINK(""http://evil.example"",""x"")"', "", "", "", ""],
            ["A2", "", "not-an-email", "", "", ""],
            ["A1", "", "", "", "", ""],
            ["A4", "", "", "a/b/c/d", "社長", "short"],
            ["ＡＢ　Ｃ", "", "", "", "", ""],
            ["", "名無し", "", "", "", ""],
        ]
    )
    result = read(data)
    found = {(e.line, e.column) for e in result.errors}
    assert (2, "氏名") in found  # formula injection
    assert (3, "メールアドレス") in found
    assert (4, "受講者ID") in found  # duplicate of row 2
    assert {(5, "部署"), (5, "雇用形態"), (5, "初期パスワード")} <= found
    assert (6, "受講者ID") in found  # a space inside the ID
    assert (7, "受講者ID") in found  # empty
    formula = next(e for e in result.errors if e.line == 2)
    assert "数式" in formula.message
    duplicate = next(e for e in result.errors if e.line == 4)
    assert "2行目" in duplicate.message


def test_duplicate_emails_inside_the_file_are_refused():
    result = read(csv_bytes([["受講者ID", "メール"], ["A1", "a@example.com"], ["A2", "A@example.com"]]))
    assert [(e.line, e.column) for e in result.errors] == [(3, "メールアドレス")]


# --- preview, confirm, cancel over HTTP ---------------------------------------------------------


def test_preview_writes_nothing_and_cancel_keeps_it_that_way(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    response = upload(admin, csv_bytes([HEADER_JA, ["00001", "佐藤", "", "総務部", "正社員", "initpass01"]]))
    assert response.status_code == 303
    batch_id = batch_id_from(response)
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    assert "新しく登録: 1 人" in page and "00001" in page and "総務部" in page
    assert "00001" not in learners(run_in_app, world["org_a"])
    assert post_form(admin, f"/org/learners/import/{batch_id}/cancel",
                     page=f"/org/learners/import/{batch_id}").status_code == 303
    assert "00001" not in learners(run_in_app, world["org_a"])
    assert run_in_app(lambda: db.session.scalar(select(func.count(Department.id)))) == 0
    assert admin.get(f"/org/learners/import/{batch_id}").status_code == 404  # cancelled batches are gone
    assert "learners.import_cancelled" in actions(run_in_app)


def test_file_with_errors_cannot_be_confirmed(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes([HEADER_JA, ["X1", "=1+1", "", "", "", ""],
                                                      ["X2", "田中", "", "", "", ""]])))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    assert "エラー(1 件)" in page and "この内容で読み込む" not in page
    response = post_form(admin, f"/org/learners/import/{batch_id}/confirm", page=f"/org/learners/import/{batch_id}")
    assert response.status_code == 303
    assert "エラーのある行が残っています" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert learners(run_in_app, world["org_a"]).keys() == {"A001"}  # nothing written


def test_confirm_creates_updates_and_sync_deactivates(world, make_user, login_as, run_in_app):
    make_user("learner", world["org_a"], login_id="OLD1", email=None, name="退職 予定")
    make_user("learner", world["org_a"], login_id="KEEP", email=None, name="旧姓", is_active_flag=False)
    admin = login_as(world["admin_a"])
    data = csv_bytes(
        [
            HEADER_JA,
            ["00001", "佐藤 一郎", "sato@example.com", "営業部/第一課", "正社員", ""],
            ["00002", "", "", "営業部/第二課", "派遣社員", "initpass01"],
            ["KEEP", "新姓", "", "", "", ""],
            ["A001", world["learner_a"].name, world["learner_a"].email, "", "", ""],
        ]
    )
    batch_id = batch_id_from(upload(admin, data, sync=True))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    assert "新しく登録: 2 人" in page and "更新: 1 人" in page and "無効にする(ファイルにない受講者): 1 人" in page
    assert "営業部/第一課" in page
    response = post_form(admin, f"/org/learners/import/{batch_id}/confirm", page=f"/org/learners/import/{batch_id}")
    assert response.status_code == 303
    found = learners(run_in_app, world["org_a"])
    assert found["00001"].email == "sato@example.com" and found["00001"].password_hash is None
    assert found["00002"].must_change_password and found["00002"].password_hash.startswith("$argon2id$")
    assert found["00002"].employment_type == "dispatched"
    assert found["KEEP"].name == "新姓" and found["KEEP"].is_active_flag
    assert not found["OLD1"].is_active_flag
    assert found["A001"].is_active_flag
    paths = run_in_app(lambda: sorted((d.name, d.depth) for d in db.session.scalars(select(Department))))
    assert paths == [("営業部", 1), ("第一課", 2), ("第二課", 2)]
    assert found["00001"].department_id != found["00002"].department_id
    batch = run_in_app(lambda: db.session.get(ImportBatch, batch_id))
    assert batch.status == ImportStatus.APPLIED and batch.rows == {}
    assert "learners.imported" in actions(run_in_app)
    assert admin.get(f"/org/learners/import/{batch_id}").status_code == 404  # cannot be applied twice


def test_email_used_elsewhere_is_an_error_in_the_preview(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes([["受講者ID", "メールアドレス"],
                                                      ["N1", world["learner_b"].email]])))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    assert "このメールアドレスは登録できません。" in page
    assert "この内容で読み込む" not in page


def test_a_conflict_after_the_preview_writes_nothing(world, make_user, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes([["受講者ID", "メールアドレス", "部署"],
                                                      ["N1", "n1@example.com", "新部署"],
                                                      ["N2", "n2@example.com", ""]])))
    make_user("learner", world["org_b"], login_id="ZZ", email="n2@example.com")  # taken in the meantime
    response = post_form(admin, f"/org/learners/import/{batch_id}/confirm", page=f"/org/learners/import/{batch_id}")
    assert "もう一度プレビュー" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "N1" not in learners(run_in_app, world["org_a"])
    assert run_in_app(lambda: db.session.scalar(select(func.count(Department.id)))) == 0


def test_invitations_are_queued_for_new_learners_with_email(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes([["受講者ID", "メールアドレス"], ["N1", "n1@example.com"],
                                                      ["N2", ""]]), invite=True))
    post_form(admin, f"/org/learners/import/{batch_id}/confirm", page=f"/org/learners/import/{batch_id}")
    messages = run_in_app(lambda: list(db.session.scalars(select(OutboxMessage))))
    assert [m.to_address for m in messages] == ["n1@example.com"]
    assert "http://portal.test/invitation/" in messages[0].body_text
    invited = run_in_app(lambda: [e.details for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.invited"))])
    assert invited == [{"invited_by": world["admin_a"].id}]  # the administrator who imported the file


def test_another_organization_cannot_see_or_confirm_a_batch(world, login_as, run_in_app):
    batch_id = batch_id_from(upload(login_as(world["admin_a"]), csv_bytes([["受講者ID"], ["N1"]])))
    other = login_as(world["admin_b"])
    assert other.get(f"/org/learners/import/{batch_id}").status_code == 404
    response = post_form(other, f"/org/learners/import/{batch_id}/confirm", page="/org/learners/import")
    assert response.status_code == 404
    assert "N1" not in learners(run_in_app, world["org_a"])


def test_bad_upload_shows_the_form_again_with_the_reason(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    response = upload(admin, "受講者ID\r\nA1\r\n".encode("utf-16"))
    assert response.status_code == 422
    assert "UTF-16のファイルは読み込めません" in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count(ImportBatch.id)))) == 0


def test_an_upload_over_the_request_limit_gets_a_japanese_413(world, login_as):
    admin = login_as(world["admin_a"])
    response = upload(admin, b"login_id\r\n" + b"A" * (LIMIT + 10))
    assert response.status_code == 413
    assert "送信されたデータが大きすぎます" in response.get_data(as_text=True)


def test_initial_passwords_are_hashed_once_per_distinct_value(app, monkeypatch):
    calls = []
    monkeypatch.setattr(imports, "hash_password", lambda p: calls.append(p) or f"hash-of-{p}")
    rows = [{"initial_password": "same-pass-1"}, {"initial_password": "same-pass-1"},
            {"initial_password": "other-pass-2"}, {"initial_password": None}]
    imports.hash_initial_passwords(rows)
    assert calls == ["same-pass-1", "other-pass-2"]
    assert [r.get("password_hash") for r in rows] == ["hash-of-same-pass-1", "hash-of-same-pass-1",
                                                      "hash-of-other-pass-2", None]
    assert not any("initial_password" in r for r in rows)  # no plain text is kept in the batch


def test_learners_in_the_database_stay_untouched_by_a_preview(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    upload(admin, csv_bytes([["受講者ID", "氏名"], ["A001", "改名"]]))
    assert learners(run_in_app, world["org_a"])["A001"].name == world["learner_a"].name
    assert run_in_app(lambda: db.session.scalar(select(func.count(User.id)))) == 7


def test_expired_and_finished_batches_are_purged(world, run_in_app):
    from datetime import timedelta

    from portal.jobs import REGISTRY
    from portal.models import utcnow

    def seed():
        now = utcnow()
        for status, expires in [("pending", now + timedelta(hours=1)), ("pending", now - timedelta(minutes=1)),
                                ("applied", now + timedelta(hours=1)), ("cancelled", now + timedelta(hours=1))]:
            db.session.add(ImportBatch(organization_id=world["org_a"].id, status=status, expires_at=expires, rows={}))

    run_in_app(seed)
    run_in_app(lambda: REGISTRY["learners.purge_import_batches"].func(utcnow()))
    left = run_in_app(lambda: [(b.status, b.expires_at > utcnow()) for b in db.session.scalars(select(ImportBatch))])
    assert left == [("pending", True)]


def test_a_file_of_only_a_header_gets_a_clear_message():
    with pytest.raises(imports.ImportFileError) as err:
        read(csv_bytes([HEADER_JA, ["", "", "", "", "", ""]]))
    assert "見出しの行のほかにデータがありません" in str(err.value.message)


# --- 受講者ID whatever their case (#19) ----------------------------------------------------------


def test_an_id_in_another_case_is_the_same_row_in_the_file():
    result = read(csv_bytes([["受講者ID"], ["Ab01"], ["aB01"]]))
    assert [(e.line, e.column) for e in result.errors] == [(3, "受講者ID")]
    assert "2行目と重複" in result.errors[0].message


def test_an_id_in_another_case_updates_the_learner_and_keeps_the_registered_id(world, make_user, login_as,
                                                                               run_in_app):
    make_user("learner", world["org_a"], login_id="Kobe-01", email=None, name="神戸 一郎")
    make_user("learner", world["org_a"], login_id="KOBE-02", email=None, name="神戸 二郎")
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes([["受講者ID", "氏名"], ["kobe-01", "神戸 一郎(改姓)"],
                                                      ["Kobe-02", "神戸 二郎"], ["a001", world["learner_a"].name]]),
                                    sync=True))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    assert "新しく登録: 0 人" in page and "更新: 1 人" in page and "変更なし: 2 人" in page
    assert "無効にする(ファイルにない受講者): 0 人" in page  # KOBE-02 and A001 are in the file
    post_form(admin, f"/org/learners/import/{batch_id}/confirm", page=f"/org/learners/import/{batch_id}")
    found = learners(run_in_app, world["org_a"])
    assert set(found) == {"A001", "Kobe-01", "KOBE-02"}
    assert found["Kobe-01"].name == "神戸 一郎(改姓)" and all(u.is_active_flag for u in found.values())


def test_an_administrators_id_in_another_case_is_refused(world, make_user, login_as):
    make_user("org_admin", world["org_a"], login_id="Admin9")
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes([["受講者ID"], ["ADMIN9"]])))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    assert "この受講者IDはすでに使われています。" in page


def test_a_name_with_circled_digits_and_full_width_letters_is_registered_as_written(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    data = csv_bytes([["受講者ID", "氏名", "部署"], ["ｎ０１", "髙橋\u3000①ＡＢＣ", "第２営業部／ＩＴ課"]])
    batch_id = batch_id_from(upload(admin, data))
    post_form(admin, f"/org/learners/import/{batch_id}/confirm", page=f"/org/learners/import/{batch_id}")
    learner = learners(run_in_app, world["org_a"])["n01"]
    assert learner.name == "髙橋\u3000①ＡＢＣ"
    names = run_in_app(lambda: {d.name for d in db.session.scalars(select(Department))})
    assert names == {"ＩＴ課", "第２営業部"}


# --- importing the valid rows of a file with errors (#19) ------------------------------------------


def valid_rows_form(page: str) -> dict:
    """The fields of the preview's "import the valid rows" form (its own button), as the browser sends them."""
    from bs4 import BeautifulSoup

    form = BeautifulSoup(page, "html.parser").select_one("#import-valid-rows form")
    assert form is not None, "no choice to import the valid rows"
    return {i["name"]: i.get("value", "") for i in form.select("input[type=hidden]")}


def refused_file(client, batch_id: int) -> tuple[list[str], list[list[str]]]:
    import csv
    import io

    response = client.get(f"/org/learners/import/{batch_id}/refused.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body  # what Excel needs to read UTF-8
    header, *rows = csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""))
    return header, rows


MIXED = [
    [*HEADER_JA, "備考"],
    ["00001", "佐藤 一郎", "sato@example.com", "営業部", "正社員", "", "正しい行"],
    ["00002", "=1+1", "", "", "", "", "数式"],
    ["00003", "鈴木①", "user-b@example.com", "総務部", "", "", "使われているメール"],
    ["00004", "田中", "", "", "社長", "shoki-pass-9", "雇用形態の誤り"],
    ["00005", "", "", "", "", "shoki-pass-1", "正しい行"],
]


def test_the_valid_rows_are_imported_on_request_and_the_refused_rows_download_as_written(
    world, make_user, login_as, run_in_app
):
    make_user("learner", world["org_b"], email="user-b@example.com", login_id="ZZ")
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes(MIXED), filename="4月入社.csv"))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    assert "エラー(3 件)" in page and "この内容で読み込む" not in page  # refused whole by default
    assert "エラーのない 2 行だけ読み込む" in page and "新しく登録: 2 人" in page
    assert "新しく作る部署: 1" in page  # 営業部 only: 総務部 belongs to a refused row

    header, rows = refused_file(admin, batch_id)
    assert header == [*HEADER_JA, "備考", "理由"]
    assert [row[:7] for row in rows] == [
        ['="00002"', "'=1+1", "", "", "", "", "数式"],  # the ID stays text in Excel, the formula inert
        ['="00003"', "鈴木①", "user-b@example.com", "総務部", "", "", "使われているメール"],
        ['="00004"', "田中", "", "", "社長", "", "雇用形態の誤り"],  # the initial password is never kept
    ]
    reasons = [row[7] for row in rows]
    assert reasons[0].startswith("3行目 氏名: ") and "数式" in reasons[0]
    assert reasons[1] == "4行目 メールアドレス: " + str(ADDRESS_UNAVAILABLE)
    assert "雇用形態: 雇用形態を一覧から選んでください。" in reasons[2]
    assert "初期パスワード" in reasons[2] and "元のファイルから入力してください" in reasons[2]

    response = post_form(admin, f"/org/learners/import/{batch_id}/confirm", valid_rows_form(page))
    assert response.status_code == 303 and response.headers["Location"] == "/org/learners/import"
    upload_page = admin.get("/org/learners/import").get_data(as_text=True)
    assert "エラーのない行を読み込みました。新規 2 人、更新 0 人。エラーのある 3 行は読み込んでいません" in upload_page
    assert "読み込まなかった 3 行をダウンロード" in upload_page
    found = learners(run_in_app, world["org_a"])
    assert set(found) == {"A001", "00001", "00005"}
    assert found["00005"].must_change_password
    assert run_in_app(lambda: db.session.scalars(select(Department.name)).all()) == ["営業部"]
    batch = run_in_app(lambda: db.session.get(ImportBatch, batch_id))
    assert batch.status == ImportStatus.PARTIAL and "rows" not in batch.rows and "source" not in batch.rows
    assert "shoki-pass" not in str(batch.rows)
    event = run_in_app(lambda: db.session.scalar(select(AuditEvent).where(AuditEvent.action == "learners.imported")))
    assert event.details == {"created": 2, "updated": 0, "deactivated": 0, "departments_created": 1,
                             "valid_rows_only": True, "imported": 2, "refused": 3}
    assert refused_file(admin, batch_id) == (header, rows)  # still there after the import
    assert admin.get(f"/org/learners/import/{batch_id}").status_code == 404  # but cannot be applied again

    # Corrected in place and imported again: the column of reasons is not read, nor written twice.
    corrected = [header[:7], *[row[:7] for row in rows]]
    corrected[3][4] = "正社員"
    with_reasons = [[*corrected[0], "理由"], *[[*row, "前の理由"] for row in corrected[1:]]]
    again = batch_id_from(upload(admin, csv_bytes(with_reasons)))
    page = admin.get(f"/org/learners/import/{again}").get_data(as_text=True)
    assert "次の列は読み込みません: 備考、理由" in page and "エラー(1 件)" in page  # 00003's address
    assert refused_file(admin, again)[0] == [*HEADER_JA, "備考", "理由"]


def test_the_partial_import_keeps_its_refused_rows_until_they_expire(world, login_as, run_in_app, time_machine):
    from datetime import timedelta

    from portal.jobs import REGISTRY
    from portal.models import utcnow

    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes(MIXED)))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    post_form(admin, f"/org/learners/import/{batch_id}/confirm", valid_rows_form(page))
    run_in_app(lambda: REGISTRY["learners.purge_import_batches"].func(utcnow()))
    assert admin.get(f"/org/learners/import/{batch_id}/refused.csv").status_code == 200
    assert login_as(world["admin_b"]).get(f"/org/learners/import/{batch_id}/refused.csv").status_code == 404
    time_machine.move_to(utcnow() + timedelta(hours=2, minutes=1))
    assert admin.get(f"/org/learners/import/{batch_id}/refused.csv").status_code == 404
    run_in_app(lambda: REGISTRY["learners.purge_import_batches"].func(utcnow()))
    assert run_in_app(lambda: db.session.get(ImportBatch, batch_id)) is None


def test_the_valid_rows_are_imported_only_while_the_refused_rows_are_those_shown(world, make_user, login_as,
                                                                                  run_in_app):
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes(MIXED)))
    choice = valid_rows_form(admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True))
    make_user("learner", world["org_b"], email="sato@example.com", login_id="ZZ")  # row 2 now fails too
    response = post_form(admin, f"/org/learners/import/{batch_id}/confirm", choice,
                         page=f"/org/learners/import/{batch_id}")
    assert response.headers["Location"] == f"/org/learners/import/{batch_id}"
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "確認した後に読み込めない行が変わりました" in page
    assert "エラーのない 2 行だけ読み込む" in page
    assert set(learners(run_in_app, world["org_a"])) == {"A001"}


def test_without_the_choice_a_file_with_errors_is_still_refused_whole(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes(MIXED)))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    choice = valid_rows_form(page)
    for sent in ({**choice, "valid_rows_only": ""}, {"refused": choice["refused"]}, {"valid_rows_only": "yes"}):
        response = post_form(admin, f"/org/learners/import/{batch_id}/confirm", sent,
                             page=f"/org/learners/import/{batch_id}")
        assert "エラーのある行が残っています" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert set(learners(run_in_app, world["org_a"])) == {"A001"}


def test_sync_mode_imports_only_a_file_without_errors(world, make_user, login_as, run_in_app):
    make_user("learner", world["org_a"], login_id="STAY", email=None)
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes([["受講者ID", "雇用形態"], ["N1", ""], ["stay", "社長"]]),
                                    sync=True))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    assert "同期モードでは、すべての行が正しいときだけ読み込めます" in page
    assert "行だけ読み込む</button>" not in page
    response = post_form(admin, f"/org/learners/import/{batch_id}/confirm", {"valid_rows_only": "1"},
                         page=f"/org/learners/import/{batch_id}")
    assert "同期モードでは" in admin.get(response.headers["Location"]).get_data(as_text=True)
    found = learners(run_in_app, world["org_a"])
    assert "N1" not in found and found["STAY"].is_active_flag and found["A001"].is_active_flag


def test_a_file_whose_rows_are_all_refused_offers_only_their_download(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes([["受講者ID", "氏名"], ["A 1", "山田"], ["", "名無し"]])))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    assert "読み込める行がありません" in page and "エラーのある 2 行をダウンロード" in page
    header, rows = refused_file(admin, batch_id)
    assert header == ["受講者ID", "氏名", "理由"]
    assert [row[:2] for row in rows] == [["A 1", "山田"], ["", "名無し"]]
    def shown():  # what the page would carry, had it offered the choice
        with tenant_scope(world["org_a"].id):
            return imports.review_batch(db.session.get(ImportBatch, batch_id), world["org_a"].id).fingerprint

    preview = f"/org/learners/import/{batch_id}"
    choice = {"valid_rows_only": "1", "refused": run_in_app(shown)}
    response = post_form(admin, f"{preview}/confirm", choice, page=preview)
    assert "読み込める行がありません" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert set(learners(run_in_app, world["org_a"])) == {"A001"}
