"""Data at scale for benchmarks and load tests: ``flask --app wsgi demo --scale N``.

N organizations with about 2,000 learners each on average (N=50: about 100,000 learners, the largest
organization 20,000), departments, a contract each, twelve months of monthly deliveries of the demo course
with assignments, attempts and answers, and support tickets. Rows go in with ``COPY`` on PostgreSQL
and an executemany of one INSERT on SQLite (:mod:`portal.bulk`; no ORM objects, no per-row flush), ids
assigned here so that children need no read-back, and PostgreSQL sequences moved past them at the end.

Deterministic (a fixed random seed) and additive: run it on a fresh database (after ``db upgrade``); the
organizations' codes ``scale001``… are refused when they exist already.
"""

from __future__ import annotations

import collections
import random
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import Table, UniqueConstraint, func, select
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from portal.bulk import copy_dicts, copy_rows
from portal.clock import this_month, today_in_tokyo, utcnow
from portal.demo import DEMO_PASSWORD
from portal.extensions import db
from portal.legal import current_document
from portal.models import (
    Assignment,
    AssignmentStatus,
    Attempt,
    AttemptAnswer,
    Contract,
    Course,
    Delivery,
    DeliveryStatus,
    Department,
    DocumentKind,
    ItemCount,
    Organization,
    Role,
    ScoreCount,
    TermsAcceptance,
    Ticket,
    TicketMessage,
    User,
)
from portal.passwords import hash_password
from portal.tenancy import unscoped

CHUNK = 20_000
LEARNERS_PER_ORG = 2_000
LARGEST_ORG = 20_000
MONTHS = 12
# Share of learners who finished each past month's test; the current month is half-way.
COMPLETION = 0.8
CURRENT_COMPLETION = 0.4

DEPARTMENT_NAMES = ["営業部", "総務部", "人事部", "経理部", "開発部", "製造部", "品質保証部", "情報システム部",
                    "購買部", "物流部", "企画部", "法務部", "広報部", "カスタマーサポート部", "研究開発部"]
FAMILY = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木",
          "山口", "松本", "井上", "木村", "林", "斎藤", "清水"]
GIVEN = ["翔太", "陽菜", "蓮", "結衣", "大翔", "美咲", "悠真", "さくら", "湊", "葵", "健太", "愛", "拓海", "花子",
         "太郎", "真央", "颯太", "凛", "優斗", "七海"]
TICKET_SUBJECTS = ["ログインできません", "受講者の一括登録について", "配信のリマインドを止めたい", "修了証の再発行",
                   "CSV の文字化け", "請求書の宛名変更", "管理者の追加", "テストの合格点を変えたい"]


@dataclass
class ScaleReport:
    """What was generated and how long each step took (seconds)."""

    counts: dict[str, int] = field(default_factory=dict)
    timings: list[tuple[str, float]] = field(default_factory=list)
    largest_org_id: int | None = None
    largest_admin_email: str | None = None

    def add(self, what: str, n: int) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


def organization_sizes(n: int, rng: random.Random, per_org: int = LEARNERS_PER_ORG) -> list[int]:
    """Learners per organization: about ``per_org * n`` in all, the first one the largest (at most 20,000)."""
    total = per_org * n
    if n == 1:
        return [total]
    largest = min(LARGEST_ORG, max(total // 5, total // n + 1))
    weights = [rng.lognormvariate(0, 1.1) for _ in range(n - 1)]
    scale = (total - largest) / sum(weights)
    # Every other organization has at least 20 learners and stays below the largest.
    return [largest] + [max(min(20, largest - 1), min(largest - 1, round(w * scale))) for w in weights]


class _Ids:
    """Next free primary key per table, so that children reference parents without reading them back."""

    def __init__(self):
        self._next: dict[str, int] = {}

    def take(self, table: Table, count: int) -> int:
        if table.name not in self._next:
            self._next[table.name] = (db.session.scalar(select(func.max(table.c.id))) or 0) + 1
        first = self._next[table.name]
        self._next[table.name] = first + count
        return first


def _insert(table: Table, rows: Iterable[dict]) -> int:
    return copy_dicts(table, rows)


class _FastInsert:
    """Rows of one table gathered in chunks and written with :func:`portal.bulk.copy_rows` (COPY on PostgreSQL),
    for the tables with millions of rows."""

    def __init__(self, table: Table, columns: list[str], parents: tuple[_FastInsert, ...] = ()):
        # Rows of ``parents`` go first: foreign keys are checked as each row goes in.
        self.table = table
        self.parents = parents
        self.columns = columns
        self.batch: list[tuple] = []
        self.total = 0

    def add(self, *values) -> None:
        self.batch.append(values)
        if len(self.batch) >= CHUNK:
            self.flush()

    def flush(self) -> int:
        for parent in self.parents:
            parent.flush()
        if self.batch:
            self.total += copy_rows(self.table, self.columns, self.batch)
            self.batch = []
        return self.total


def seed_scale(n: int, *, echo: Callable[[str], None] = print, now: datetime | None = None,
               learners_per_org: int | None = None) -> ScaleReport:
    """Generate ``n`` organizations with their learners and a year of training and tickets; commits per step.

    :raises ValueError: when ``n`` is not positive or the scale organizations exist already.
    """
    if n < 1:
        raise ValueError("--scale needs at least 1 organization")
    now = now or utcnow()
    rng = random.Random(9)  # noqa: S311 - demo data, not secrets
    report = ScaleReport()
    ids = _Ids()
    with unscoped("the CLI seeds many organizations"):
        if db.session.scalar(select(Organization.id).where(Organization.code == "scale001")) is not None:
            raise ValueError("the scale organizations exist already: use a fresh database")
        course = db.session.scalar(select(Course).where(Course.organization_id.is_(None)).order_by(Course.id))
        if course is None:
            raise ValueError("the demo course is missing: run `flask demo` first")
        from portal.blueprints.training.courses.services import bank_questions

        questions = [(q.id, [c.id for c in q.choices], [c.id for c in q.choices if c.is_correct])
                     for q in bank_questions(course)]
        per_attempt = min(course.questions_per_attempt or len(questions), len(questions))

        if db.session.get_bind().dialect.name == "sqlite":
            # A bigger page cache for this connection: index upkeep on millions of rows stays in memory.
            db.session.connection().exec_driver_sql("PRAGMA cache_size = -262144")

        def step(label: str, fn):
            started, cpu = time.perf_counter(), time.process_time()
            result = fn()
            db.session.commit()
            seconds = time.perf_counter() - started
            report.timings.append((label, seconds))
            echo(f"  {label}: {seconds:.1f} s (CPU of this process {time.process_time() - cpu:.1f} s)")
            return result

        sizes = organization_sizes(n, rng, learners_per_org or LEARNERS_PER_ORG)
        orgs = step("organizations, contracts, administrators", lambda: _organizations(sizes, ids, now, report))
        learners = step("departments and learners", lambda: _learners(orgs, sizes, ids, now, rng, report))
        step(f"{MONTHS} months of deliveries, assignments, attempts and answers",
             lambda: _without_foreign_keys(
                 [Assignment.__table__, Attempt.__table__, AttemptAnswer.__table__],
                 lambda: _training(orgs, learners, course.id, questions, per_attempt, ids, now, rng, report),
                 rebuilt=(AttemptAnswer.__table__,)))
        step("tickets", lambda: _tickets(orgs, learners, ids, now, rng, report))
        from portal.models import InspectionAnswer, InspectionResponse, InspectionTally

        step(f"{MONTHS} months of inspection rounds, answers and tallies",
             lambda: _without_foreign_keys(
                 [InspectionResponse.__table__, InspectionAnswer.__table__, InspectionTally.__table__],
                 lambda: seed_inspection_rounds(orgs, learners, ids, now, rng, report),
                 rebuilt=(InspectionAnswer.__table__,)))
        step("sequences and statistics", _finish_database)
    report.largest_org_id = orgs[0][0]
    report.largest_admin_email = orgs[0][2]
    return report


def _organizations(sizes, ids, now, report) -> list[tuple[int, str, str]]:
    """(id, code, admin email) per organization; the admins share the demo password."""
    orgs_table, users_table = Organization.__table__, User.__table__
    first = ids.take(orgs_table, len(sizes))
    orgs = [(first + i, f"scale{i + 1:03d}", f"admin@scale{i + 1:03d}.example.com") for i in range(len(sizes))]
    _insert(orgs_table, ({"id": oid, "name": f"スケール商事{i + 1:03d}株式会社", "code": code, "status": "active",
                          "created_at": now - timedelta(days=400), "learners_may_ask": True,
                          "magic_link_sign_in": False, "admins_require_mfa": False}
                         for i, (oid, code, _email) in enumerate(orgs)))
    start = date(now.year - 1, now.month, 1)
    _insert(Contract.__table__, ({"organization_id": oid, "plan_name": "スタンダード", "starts_on": start,
                                  "ends_on": start.replace(year=start.year + 2) - timedelta(days=1),
                                  "seat_limit": size + size // 10, "annual_fee": 300_000 + 1_000 * size,
                                  "overage_unit_price": 3_000, "created_at": now, "updated_at": now}
                                 for (oid, _c, _e), size in zip(orgs, sizes, strict=True)))
    admin_hash = hash_password(DEMO_PASSWORD)
    first_admin = ids.take(users_table, len(orgs))
    _insert(users_table, ({"id": first_admin + i, "role": Role.ORG_ADMIN, "organization_id": oid, "email": email,
                           "name": f"管理 {i + 1:03d}", "password_hash": admin_hash,
                           "session_token": secrets.token_urlsafe(24), "active": True, "must_change_password": False,
                           "failed_logins": 0, "created_at": now}
                          for i, (oid, _code, email) in enumerate(orgs)))
    # Like the demo company's administrator (portal/demo/showcase.py), they accepted the terms in force:
    # their pages open at once, not after the acceptance page.
    terms = current_document(DocumentKind.TERMS, today_in_tokyo(now))
    if terms is not None:
        _insert(TermsAcceptance.__table__, ({"document_id": terms.id, "user_id": first_admin + i,
                                             "organization_id": oid, "accepted_at": now}
                                            for i, (oid, _code, _email) in enumerate(orgs)))
    report.add("organizations", len(orgs))
    report.add("administrators", len(orgs))
    return orgs


def _learners(orgs, sizes, ids, now, rng, report) -> dict[int, list[tuple[int, int]]]:
    """Departments (a tree of up to two levels) and learners; returns org id -> [(learner id, department id)]."""
    departments_table, users_table = Department.__table__, User.__table__
    learner_hash = hash_password(DEMO_PASSWORD)
    result: dict[int, list[tuple[int, int]]] = {}
    department_rows, learner_rows = [], []
    for (org_id, code, _email), size in zip(orgs, sizes, strict=True):
        top = min(len(DEPARTMENT_NAMES), max(2, size // 400 + 2))
        per_top = 0 if size < 1000 else 3
        first = ids.take(departments_table, top * (1 + per_top))
        leaves = []
        for t in range(top):
            parent_id = first + t * (1 + per_top)
            department_rows.append({"id": parent_id, "organization_id": org_id, "parent_id": None,
                                    "name": DEPARTMENT_NAMES[t], "depth": 1, "created_at": now})
            if not per_top:
                leaves.append(parent_id)
            for c in range(per_top):
                department_rows.append({"id": parent_id + 1 + c, "organization_id": org_id, "parent_id": parent_id,
                                        "name": f"第{c + 1}課", "depth": 2, "created_at": now})
                leaves.append(parent_id + 1 + c)
        first_learner = ids.take(users_table, size)
        members = []
        for i in range(size):
            learner_id, department_id = first_learner + i, leaves[i % len(leaves)]
            members.append((learner_id, department_id))
            learner_rows.append({
                "id": learner_id, "role": Role.LEARNER, "organization_id": org_id,
                # Half sign in with email, half with their 受講者ID at /o/<code>.
                "email": f"learner{i + 1:05d}@{code}.example.com" if i % 2 == 0 else None,
                "login_id": f"L{i + 1:05d}", "name": f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}",
                "password_hash": learner_hash, "session_token": secrets.token_urlsafe(24), "active": True,
                "must_change_password": False, "failed_logins": 0, "created_at": now - timedelta(days=380),
                "department_id": department_id, "employment_type": "正社員" if i % 5 else "契約社員",
            })
        result[org_id] = members
    report.add("departments", _insert(departments_table, department_rows))
    report.add("learners", _insert(users_table, learner_rows))
    return result


def _training(orgs, learners, course_id, questions, per_attempt, ids, now, rng, report) -> None:
    """Monthly deliveries for a year; past ones closed, the current one open. Attempts and answers in bulk."""
    deliveries_table, assignments_table = Delivery.__table__, Assignment.__table__
    attempts_table, answers_table = Attempt.__table__, AttemptAnswer.__table__
    admin_ids = {org_id: db.session.scalar(select(User.id).where(User.email == email))
                 for org_id, _code, email in orgs}
    first_delivery = ids.take(deliveries_table, len(orgs) * MONTHS)
    delivery_rows = []
    for o, (org_id, _code, _email) in enumerate(orgs):
        for month in range(MONTHS):
            starts = (now - timedelta(days=30 * (MONTHS - 1 - month))).replace(hour=0, minute=0, second=0,
                                                                              microsecond=0)
            current = month == MONTHS - 1
            delivery_rows.append({
                "id": first_delivery + o * MONTHS + month, "organization_id": org_id, "course_id": course_id,
                "title": f"{starts.astimezone(UTC).month}月の情報セキュリティ研修", "target_kind": "everyone",
                "target_department_ids": [], "target_learner_ids": [], "starts_at": starts,
                "due_at": starts + timedelta(days=14 if not current else 21), "reminder_days": [-3, 1],
                "reminders_sent": 0 if current else 2, "window_start_hour": 9, "window_end_hour": 18,
                "business_days_only": True, "recurrence": "none", "round_no": 1,
                "status": DeliveryStatus.LAUNCHED if current else DeliveryStatus.CLOSED,
                "link_salt": secrets.token_hex(16), "launched_at": starts, "created_by_id": admin_ids[org_id],
                "created_at": starts,
            })
    report.add("deliveries", _insert(deliveries_table, delivery_rows))

    assignments = _FastInsert(assignments_table, [
        "id", "organization_id", "delivery_id", "learner_id", "department_id", "link_hash", "status", "best_score",
        "attempts_count", "passed_at", "late", "certificate_code"])
    attempts = _FastInsert(attempts_table, [
        "id", "organization_id", "assignment_id", "learner_id", "number", "state", "question_ids", "choice_order",
        "started_at", "finished_at", "score", "passed", "late"], parents=(assignments,))
    answers = _FastInsert(answers_table, [
        "organization_id", "attempt_id", "question_id", "choice_ids", "correct", "answered_at"], parents=(attempts,))
    wrong_of = {q[0]: [c for c in q[1] if c not in q[2]][:1] or q[2] for q in questions}
    # Item analysis' counts, as each finish keeps them (portal/item_counts.py): (org, delivery, score) ->
    # attempts, (org, delivery, question, score) -> [answers, right].
    score_tally: collections.Counter = collections.Counter()
    item_tally: dict[tuple[int, int, int, int], list[int]] = {}
    from portal.blueprints.training.deliveries.services import link_digest, personal_link_secret

    for delivery in delivery_rows:
        org_id, delivery_id = delivery["organization_id"], delivery["id"]
        # Real personal links (the invitation email's), so that load tests can sign learners in with them.
        keyed = SimpleNamespace(id=delivery_id, link_salt=delivery["link_salt"])
        members = learners[org_id]
        current = delivery["status"] == DeliveryStatus.LAUNCHED
        completion = CURRENT_COMPLETION if current else COMPLETION
        starts = delivery["starts_at"]
        first_assignment = ids.take(assignments_table, len(members))
        taken = [rng.random() < completion for _ in members]
        attempt_id = ids.take(attempts_table, sum(taken))
        for i, (learner_id, department_id) in enumerate(members):
            assignment_id = first_assignment + i
            link_hash = link_digest(personal_link_secret(keyed, learner_id))
            if not taken[i]:
                assignments.add(assignment_id, org_id, delivery_id, learner_id, department_id, link_hash,
                                AssignmentStatus.NOT_STARTED, None, 0, None, False, None)
                continue
            drawn = rng.sample(questions, per_attempt)
            ability = rng.random()
            marks = [rng.random() < 0.6 + 0.4 * ability for _ in drawn]
            score = round(100 * sum(marks) / len(marks))
            passed = all(marks)
            finished = starts + timedelta(days=rng.randint(0, 13), minutes=rng.randint(540, 1080))
            assignments.add(assignment_id, org_id, delivery_id, learner_id, department_id, link_hash,
                            AssignmentStatus.PASSED if passed else AssignmentStatus.FAILED, score, 1,
                            finished if passed else None, False,
                            f"S{delivery_id:05d}{learner_id:07d}" if passed else None)
            attempts.add(attempt_id, org_id, assignment_id, learner_id, 1, "finished", [q[0] for q in drawn], {},
                         finished - timedelta(minutes=12), finished, score, passed, False)
            score_tally[(org_id, delivery_id, score)] += 1
            for (question_id, _choices, right), ok in zip(drawn, marks, strict=True):
                answers.add(org_id, attempt_id, question_id, right if ok else wrong_of[question_id], ok, finished)
                cell = item_tally.setdefault((org_id, delivery_id, question_id, score), [0, 0])
                cell[0] += 1
                cell[1] += ok
            attempt_id += 1
    answers.flush()
    _insert(ScoreCount.__table__, [{"organization_id": o, "delivery_id": d, "score": s, "attempts": n}
                                   for (o, d, s), n in score_tally.items()])
    _insert(ItemCount.__table__, [{"organization_id": o, "delivery_id": d, "question_id": q, "score": s,
                                   "answered": n, "correct": c} for (o, d, q, s), (n, c) in item_tally.items()])
    report.add("assignments", assignments.total)
    report.add("attempts", attempts.total)
    report.add("answers", answers.total)


def _tickets(orgs, learners, ids, now, rng, report) -> None:
    """About one ticket per 200 learners a year, each with a question and (mostly) an answer."""
    tickets_table, messages_table = Ticket.__table__, TicketMessage.__table__
    staff_id = db.session.scalar(select(User.id).where(User.role == Role.SUPPORT).order_by(User.id))
    ticket_rows, message_rows = [], []
    for org_id, _code, email in orgs:
        admin_id = db.session.scalar(select(User.id).where(User.email == email))
        count = max(1, len(learners[org_id]) // 200)
        first = ids.take(tickets_table, count)
        for t in range(count):
            created = now - timedelta(days=rng.randint(0, 364), minutes=rng.randint(0, 600))
            answered = created + timedelta(hours=rng.randint(1, 40))
            status = rng.choices(["closed", "resolved", "open", "new"], weights=[70, 15, 10, 5])[0]
            ticket_rows.append({
                "id": first + t, "organization_id": org_id, "requester_id": admin_id,
                "assignee_id": staff_id if status != "new" else None, "category": "question",
                "subject": rng.choice(TICKET_SUBJECTS), "status": status, "created_at": created,
                "updated_at": answered if status != "new" else created, "sla_started_at": created,
                "sla_budget_minutes": 960, "sla_due_at": created + timedelta(days=2),
                "first_answer_due_at": created + timedelta(days=2),
                "first_answered_at": answered if status != "new" else None,
                "first_answer_met": True if status != "new" else None,
                "resolved_at": answered if status in ("closed", "resolved") else None,
                "closed_at": answered + timedelta(days=3) if status == "closed" else None,
            })
            message_rows.append({"organization_id": org_id, "ticket_id": first + t, "author_id": admin_id,
                                 "from_staff": False, "internal": False, "created_at": created,
                                 "body": "お世話になっております。表題の件について教えてください。"})
            if status != "new":
                message_rows.append({"organization_id": org_id, "ticket_id": first + t, "author_id": staff_id,
                                     "from_staff": True, "internal": False, "created_at": answered,
                                     "body": "お問い合わせありがとうございます。手順をご案内いたします。"})
    report.add("tickets", _insert(tickets_table, ticket_rows))
    report.add("ticket messages", _insert(messages_table, message_rows))


def seed_inspection_rounds(orgs, learners, ids, now, rng, report) -> int:
    """Twelve closed monthly rounds of the global employee edition per organization (the months before this
    one), answered by its learners, with the tallies the results pages read; the same generator as the demo
    organization's history (``demo.inspection_history.generate_history``)."""
    from portal.demo.inspection_history import generate_history, months_before
    from portal.models import EditionKind, InspectionAnswer, InspectionEdition
    from portal.tenancy import tenant_scope

    edition_id = db.session.scalar(
        select(InspectionEdition.id).where(InspectionEdition.kind == EditionKind.EMPLOYEE,
                                           InspectionEdition.organization_id.is_(None))
        .order_by(InspectionEdition.id)
    )
    if edition_id is None:
        report.add("inspection rounds (no employee edition in the library)", 0)
        return 0
    months = months_before(this_month(now), MONTHS)
    rounds = 0
    for org_id, _code, _email in orgs:
        with tenant_scope(org_id):
            edition = db.session.get(InspectionEdition, edition_id)
            rounds += len(generate_history(org_id, edition, learners[org_id], months, seed=org_id))
        db.session.commit()
    report.add("inspection rounds", rounds)
    report.add("inspection answers", db.session.scalar(select(func.count()).select_from(InspectionAnswer)))
    return rounds


def _without_foreign_keys(tables: list[Table], fn: Callable[[], object], *, rebuilt: tuple[Table, ...] = ()):
    """Run ``fn`` with the foreign keys of ``tables`` dropped, and add them back, checked, before returning.

    PostgreSQL only (elsewhere ``fn`` just runs): each COPYed row would otherwise look up its parents one by
    one, most of the database's time (PostgreSQL's "Populating a Database"); adding a key back checks every
    row in one join. The step's single transaction holds both, so a failure leaves the keys as they were.

    ``rebuilt`` tables (the answers: millions of rows that ``fn`` writes and never reads) also lose their
    secondary indexes and unique constraints for the load; each is built again afterwards in one sort, and a
    unique constraint checks every row as it comes back.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return fn()
    keys = [key for table in tables for key in table.foreign_key_constraints]
    uniques = [c for table in rebuilt for c in table.constraints if isinstance(c, UniqueConstraint)]
    indexes = [index for table in rebuilt for index in table.indexes]
    for key in keys:
        db.session.execute(DropConstraint(key))
    for constraint in uniques:
        db.session.execute(DropConstraint(constraint))
    for index in indexes:
        db.session.execute(DropIndex(index))
    result = fn()
    for index in indexes:
        db.session.execute(CreateIndex(index))
    for constraint in uniques:
        db.session.execute(AddConstraint(constraint))
    for key in keys:
        db.session.execute(AddConstraint(key))
    return result


def _finish_database() -> None:
    """PostgreSQL: move each sequence past the ids given here, and ANALYZE; SQLite: ANALYZE."""
    if db.session.get_bind().dialect.name == "postgresql":
        for table in (Organization.__table__, User.__table__, Department.__table__, Delivery.__table__,
                      Assignment.__table__, Attempt.__table__, Ticket.__table__):
            highest = select(func.coalesce(func.max(table.c.id), 1)).scalar_subquery()
            db.session.execute(select(func.setval(func.pg_get_serial_sequence(table.name, "id"), highest)))
    db.session.commit()
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
