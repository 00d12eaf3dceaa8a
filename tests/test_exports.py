"""The export helper: Excel-safe CSV/TSV, streamed, with a Japanese filename."""

from __future__ import annotations

from urllib.parse import unquote

from portal.exports import TextCell, content_disposition, csv_response, neutralise
from tests.conftest import audit_events


def body(response) -> bytes:
    return b"".join(response.response)


def test_csv_has_bom_crlf_and_neutralised_formulas(app):
    with app.test_request_context():
        response = csv_response(
            "結果.csv",
            ["ID", "氏名", "メモ"],
            [(TextCell("00123"), "山田", "=HYPERLINK(\"http://x\")"), (TextCell("A-1"), "+81", "@SUM(A1)"),
             ("x", "-1", "\tTAB")],
        )
        data = body(response)
    assert response.mimetype == "text/csv"
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[0] == '"ID","氏名","メモ"'
    assert lines[1] == '"=""00123""","山田","\'=HYPERLINK(""http://x"")"'
    assert lines[2] == '"A-1","\'+81","\'@SUM(A1)"'
    assert lines[3] == '"x","\'-1","\'\tTAB"'
    assert text.endswith("\r\n")


def test_tsv_uses_tabs(app):
    with app.test_request_context():
        response = csv_response("一覧.tsv", ["a", "b"], [("1", "2")], dialect="tsv")
        data = body(response).decode("utf-8-sig")
    assert response.mimetype == "text/tab-separated-values"
    assert data == '"a"\t"b"\r\n"1"\t"2"\r\n'


def test_japanese_filename_uses_rfc5987():
    header = content_disposition("受講者一覧.csv")
    assert header.startswith('attachment; filename="download.csv"; ')
    assert content_disposition("results 2026.tsv").startswith('attachment; filename="results_2026.tsv"')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "受講者一覧.csv"
    assert all(ord(c) < 128 for c in header)


def test_neutralise_leaves_ordinary_text_alone():
    assert neutralise("山田 太郎") == "山田 太郎"
    assert neutralise(None) == ""
    assert neutralise(42) == "42"
    assert neutralise(TextCell("ABC")) == "ABC"  # only all-digit IDs need the ="..." form
    assert neutralise("\rx") == "'\rx"


def test_learner_export_streams_excel_safe_csv(world, make_user, login_as, run_in_app):
    make_user("learner", world["org_a"], login_id="00042", name="=cmd|' /C calc'!A0", email=None)
    admin = login_as(world["admin_a"])
    response = admin.get("/org/learners/export.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    assert '"=""00042"""' in text and "\"'=cmd|" in text
    assert "B001" not in text  # another organization
    tsv = admin.get("/org/learners/export.tsv?q=00042&status=all")
    assert tsv.mimetype == "text/tab-separated-values" and "\t" in tsv.get_data(as_text=True)
    # A download of personal data is on record, with the filters that chose its rows.
    assert audit_events(run_in_app, "learners.list_exported") == [
        {"target_id": None, "actor_id": world["admin_a"].id, "format": "csv", "status": "active"},
        {"target_id": None, "actor_id": world["admin_a"].id, "format": "tsv", "q": "00042", "status": "all"},
    ]


def test_exported_file_imports_back(world, login_as, run_in_app):
    from portal.blueprints.learners import imports

    admin = login_as(world["admin_a"])
    data = admin.get("/org/learners/export.csv").get_data()
    result = imports.read_csv(data, max_bytes=1_000_000)
    assert result.errors == [] and result.rows[0]["login_id"] == "A001"
