"""Labels people read in the logs (#19 item 5): every audit action and email kind has a Japanese label, the
audit log and the delivery log show them and filter by a kind chosen from a list; old links with a raw code
still work, and a code without a label is shown as itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from portal import audit
from portal.extensions import db
from portal.log_labels import ACTION_GROUPS, ACTION_LABELS, MAIL_KIND_LABELS, action_label, mail_kind_label
from portal.models import AuditEvent, OutboxMessage, OutboxStatus
from tests.conftest import BACKEND_INDEPENDENT

PORTAL = Path(__file__).resolve().parent.parent / "portal"
RECORDERS = {"record", "record_denial"}


# --- every action has a label: collected from the source -------------------------------------------------


class _Source:
    """Every module of portal/ parsed once, with each node's enclosing function."""

    def __init__(self):
        self.modules: dict[Path, ast.Module] = {}
        self.function_of: dict[ast.AST, ast.FunctionDef | None] = {}
        self.functions: dict[str, list[ast.FunctionDef]] = {}
        for path in sorted(PORTAL.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            self.modules[path] = tree
            self._index(tree, None)

    def _index(self, node: ast.AST, function) -> None:
        for child in ast.iter_child_nodes(node):
            self.function_of[child] = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions.setdefault(child.name, []).append(child)
                self._index(child, child)
            else:
                self._index(child, function)

    def calls(self, name: str):
        """Calls of a function or method called ``name`` (``name(...)`` and ``x.name(...)``)."""
        for tree in self.modules.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    func = node.func
                    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                    if called == name:
                        yield node

    def audit_calls(self):
        """(where, first argument) of every ``audit.record(...)`` / ``audit.record_denial(...)``, and of the bare
        names when a module imports them from portal.audit."""
        for path, tree in self.modules.items():
            if path.name == "audit.py" and path.parent == PORTAL:
                continue
            imported = {alias.asname or alias.name for node in ast.walk(tree)
                        if isinstance(node, ast.ImportFrom) and node.module == "portal.audit"
                        for alias in node.names if alias.name in RECORDERS}
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                by_module = (isinstance(func, ast.Attribute) and func.attr in RECORDERS
                             and isinstance(func.value, ast.Name) and func.value.id == "audit")
                by_name = isinstance(func, ast.Name) and func.id in imported
                if by_module or by_name:
                    argument = node.args[0] if node.args else next(k.value for k in node.keywords if k.arg == "action")
                    yield f"{path.relative_to(PORTAL.parent)}:{node.lineno}", argument

    def strings(self, node: ast.AST, seen: frozenset = frozenset()) -> set[str]:
        """Every string ``node`` can be: literals, either branch of ``a if c else b``, an f-string's fixed parts
        around a name, a local assigned from those, a parameter (its default and what every caller passes).

        :raises LookupError: for anything else, so that an action the test cannot follow fails loudly.
        """
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return self.strings(node.body, seen) | self.strings(node.orelse, seen)
        if isinstance(node, ast.JoinedStr):
            results = {""}
            for part in node.values:
                options = self.strings(part.value, seen) if isinstance(part, ast.FormattedValue) \
                    else self.strings(part, seen)
                results = {r + o for r in results for o in options}
            return results
        if isinstance(node, ast.Name):
            return self._name(node, seen)
        raise LookupError(ast.unparse(node))

    def _name(self, node: ast.Name, seen: frozenset) -> set[str]:
        function = self.function_of.get(node)
        if function is None or (function, node.id) in seen:
            raise LookupError(node.id)
        seen = seen | {(function, node.id)}
        assigned = [n.value for n in ast.walk(function) if isinstance(n, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)]
        if assigned:
            return set().union(*(self.strings(value, seen) for value in assigned))
        arguments = function.args
        positional = [a.arg for a in arguments.posonlyargs + arguments.args]
        if node.id not in positional + [a.arg for a in arguments.kwonlyargs]:
            raise LookupError(node.id)
        found: set[str] = set()
        defaults = dict(zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults, strict=True))
        defaults.update({a.arg: d for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d})
        if node.id in defaults:
            found |= self.strings(defaults[node.id], seen)
        index = positional.index(node.id) if node.id in positional else None
        for call in self.calls(function.name):
            # A method called through its instance does not pass ``self``.
            shift = 1 if positional[:1] == ["self"] and isinstance(call.func, ast.Attribute) else 0
            passed = [k.value for k in call.keywords if k.arg == node.id]
            if index is not None and len(call.args) > index - shift >= 0:
                passed.append(call.args[index - shift])
            for value in passed:
                found |= self.strings(value, seen)
        return found


def recorded_actions() -> dict[str, str]:
    """Every action portal/ can pass to the audit trail -> where."""
    source = _Source()
    actions: dict[str, str] = {}
    unresolved = []
    for where, argument in source.audit_calls():
        try:
            for action in source.strings(argument):
                actions.setdefault(action, where)
        except LookupError as problem:
            unresolved.append(f"{where}: {problem}")
    assert unresolved == [], f"actions the test cannot follow (pass a literal, or teach the test): {unresolved}"
    return actions


@BACKEND_INDEPENDENT
def test_every_recorded_action_has_a_label():
    actions = recorded_actions()
    # The collector itself works: the calls that pass a literal, a parameter or an f-string are all found.
    assert len(actions) > 100
    assert {"auth.login", "auth.logout", "auth.sessions_ended_by_password_change", "ticket.created",
            "ticket.reopened", "learners.deactivated", "auth.permission_denied"} <= set(actions)
    missing = {action: where for action, where in actions.items() if action not in ACTION_LABELS}
    assert missing == {}, f"give these actions a label in portal/log_labels.py: {missing}"


def test_no_action_is_in_two_groups():
    codes = [code for _group, actions in ACTION_GROUPS for code in actions]
    assert len(codes) == len(set(codes)) == len(ACTION_LABELS)


def test_every_email_kind_has_a_label(app):
    kinds = {name.removeprefix("email/").removesuffix(".subject.txt") for name in app.jinja_env.list_templates()
             if name.startswith("email/") and name.endswith(".subject.txt")}
    assert {"invitation", "training_reminder", "inspection_invitation", "tickets_new"} <= kinds
    assert sorted(kinds - set(MAIL_KIND_LABELS)) == []


def test_labels_are_japanese_and_unknown_codes_read_as_themselves(app):
    with app.test_request_context():
        assert action_label("auth.login") == "ログイン"
        assert action_label("training.attempt_started") == "テストを開始"
        assert mail_kind_label("invitation") == "招待(管理者・マネージャー)"
        assert mail_kind_label("training_reminder") == "研修の督促"
        assert action_label("legacy.something") == "legacy.something"
        assert mail_kind_label("legacy_mail") == "legacy_mail"


# --- the audit log ----------------------------------------------------------------------------------------


def _rows(html: str) -> list[list[str]]:
    soup = BeautifulSoup(html, "html.parser")
    return [[td.get_text(" ", strip=True) for td in tr.select("td")] for tr in soup.select("tbody tr")]


def _column(html: str, label: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    return [td.get_text(" ", strip=True) for td in soup.select(f'tbody td[data-label="{label}"]')]


@pytest.fixture
def events(world, run_in_app):
    def seed():
        org_a = world["org_a"].id
        audit.record("auth.login", target_type="User", target_id=1, organization_id=org_a)
        audit.record("auth.login_failed", target_type="User", target_id=1, organization_id=org_a)
        audit.record("training.attempt_started", target_type="Attempt", target_id=2, organization_id=org_a)
        audit.record("legacy.renamed_action", target_type="User", target_id=3, organization_id=org_a)
        audit.record("auth.login", target_type="User", target_id=4, organization_id=world["org_b"].id)

    run_in_app(seed)


def test_the_audit_log_shows_labels_and_filters_by_a_chosen_action(world, login_as, events):
    admin = login_as(world["admin_a"])
    page = admin.get("/org/audit").get_data(as_text=True)
    # (The administrator's own sign-in is one more ログイン.)
    assert set(_column(page, "操作")) == {"ログイン", "ログインに失敗", "テストを開始", "legacy.renamed_action"}
    soup = BeautifulSoup(page, "html.parser")
    select = soup.select_one("select#action")
    assert select is not None, "the 操作 filter is a list, not a text box"
    options = {o["value"]: o.get_text(strip=True) for o in select.select("option")}
    assert options[""] == "すべて" and options["auth.login"] == "ログイン"
    assert options["training.attempt_started"] == "テストを開始"
    assert len(options) == len(ACTION_LABELS) + 1
    assert select.select_one('optgroup[label="ログイン・認証"] option[value="auth.login"]') is not None

    # Choosing ログイン shows the sign-ins only: not ログインに失敗, whose code merely starts the same way.
    chosen = admin.get("/org/audit", query_string={"action": "auth.login"}).get_data(as_text=True)
    assert _column(chosen, "操作") == ["ログイン", "ログイン"]
    selected = BeautifulSoup(chosen, "html.parser").select("select#action option[selected]")
    assert [o["value"] for o in selected] == ["auth.login"]


def test_old_links_with_a_raw_code_still_filter_and_show_the_code(world, login_as, events):
    operator = login_as(world["operator"])
    # A family prefix, as the filter took before it became a list.
    page = operator.get("/operator/audit", query_string={"action": "legacy."}).get_data(as_text=True)
    assert _column(page, "操作") == ["legacy.renamed_action"]
    soup = BeautifulSoup(page, "html.parser")
    assert [o.get_text(strip=True) for o in soup.select("select#action option[selected]")] == ["legacy."]
    # The operator's link from the leaked-password email names the full code.
    page = operator.get("/operator/audit", query_string={"action": "auth.login",
                                                          "organization_id": world["org_b"].id})
    assert page.status_code == 200
    assert _column(page.get_data(as_text=True), "操作") == ["ログイン"]


def test_organization_detail_shows_labels(world, login_as, events):
    page = login_as(world["operator"]).get(f"/operator/organizations/{world['org_a'].id}").get_data(as_text=True)
    assert "テストを開始" in page and "training.attempt_started" not in page


# --- the delivery log -------------------------------------------------------------------------------------


@pytest.fixture
def messages(world, run_in_app):
    def seed():
        for n, (template, org) in enumerate([("training_reminder", world["org_a"]),
                                             ("invitation", world["org_a"]),
                                             ("retired_kind", world["org_a"]),
                                             ("training_reminder", world["org_b"])]):
            db.session.add(OutboxMessage(idempotency_key=f"labels:{n}", template=template, subject=f"件名{n}",
                                         to_address=f"p{n}@example.com", body_text="本文", organization_id=org.id,
                                         status=OutboxStatus.SENT))

    run_in_app(seed)


def test_the_delivery_log_shows_kinds_and_filters_by_a_chosen_kind(world, login_as, messages):
    admin = login_as(world["admin_a"])
    page = admin.get("/mail/").get_data(as_text=True)
    assert sorted(_column(page, "種類")) == sorted(["研修の督促", "招待(管理者・マネージャー)", "retired_kind"])
    select = BeautifulSoup(page, "html.parser").select_one("select#template")
    options = {o["value"]: o.get_text(strip=True) for o in select.select("option")}
    assert options == {"": "すべて", **{kind: str(label) for kind, label in MAIL_KIND_LABELS.items()}}

    chosen = admin.get("/mail/", query_string={"template": "training_reminder"}).get_data(as_text=True)
    assert _column(chosen, "種類") == ["研修の督促"]
    # htmx asks for the results only; they carry the labels too.
    fragment = admin.get("/mail/", query_string={"template": "invitation"}, headers={"HX-Request": "true"})
    assert _column(fragment.get_data(as_text=True), "種類") == ["招待(管理者・マネージャー)"]
    assert "<html" not in fragment.get_data(as_text=True)
    # An old link naming a kind no longer sent: it filters, and the list offers it as itself.
    old = admin.get("/mail/", query_string={"template": "retired_kind"}).get_data(as_text=True)
    assert _column(old, "種類") == ["retired_kind"]
    selected = BeautifulSoup(old, "html.parser").select("select#template option[selected]")
    assert [(o["value"], o.get_text(strip=True)) for o in selected] == [("retired_kind", "retired_kind")]


def test_a_message_shows_its_kind(world, login_as, messages, run_in_app):
    from sqlalchemy import select

    from portal.tenancy import unscoped

    def first():
        with unscoped("the test reads and writes rows directly"):
            return db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.template == "invitation"))

    page = login_as(world["admin_a"]).get(f"/mail/{run_in_app(first)}").get_data(as_text=True)
    soup = BeautifulSoup(page, "html.parser")
    kinds = [dt.find_next_sibling("dd").get_text(strip=True) for dt in soup.select("dl.details dt")
             if dt.get_text(strip=True) == "種類"]
    assert kinds == ["招待(管理者・マネージャー)"]


def test_every_labelled_action_fits_the_audit_column_and_the_filter():
    longest = max(len(code) for code in ACTION_LABELS)
    assert longest <= AuditEvent.__table__.c.action.type.length
    assert longest <= 64  # the filter's Length(max=64)
