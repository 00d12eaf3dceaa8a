# The two commands of the README: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 5000
MAIL_PORT ?= 8025
MAIL_IN_PORT ?= 8026
# Staff alerts (new tickets, out-of-hours emergencies, leaked passwords) go to deliverable addresses, so
# they arrive in the local mail sink like every other email of the demo.
STAFF_ENV := PORTAL_SUPPORT_EMAIL=support-desk@staff.example.com PORTAL_ONCALL_EMAIL=oncall@staff.example.com \
	PORTAL_OPERATOR_EMAIL=security@staff.example.com
DEV_ENV := PORTAL_ENV=development PORTAL_MAIL_PORT=$(MAIL_PORT) PORTAL_MAIL_IN_PORT=$(MAIL_IN_PORT) PORTAL_BASE_URL=http://127.0.0.1:$(PORT) $(STAFF_ENV)

.PHONY: install translations run test test-passes test-dates lint messages bench bench-pages clean scan lighthouse screenshots fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) translations

translations: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy --statistics -d portal/translations

instance/secret_key: | $(STAMP)
	mkdir -p instance
	umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))' > $@

# The portal with demo data on SQLite, a local SMTP sink, the mail worker and the listener for replies to
# ticket notifications (docs/guides/support-desk.md); Ctrl-C stops them all. The trap resets itself before
# `kill 0`: the signal it sends reaches this shell too, and dash would run the trap again, without end (a storm
# of SIGTERMs that crashed one process and left `flask mail-in` holding its port).
run: install instance/secret_key
	$(DEV_ENV) $(BIN)/flask --app wsgi db upgrade
	$(DEV_ENV) $(BIN)/flask --app wsgi demo --if-empty
	@echo "Portal: http://127.0.0.1:$(PORT)/  (mail sink on 127.0.0.1:$(MAIL_PORT), messages in instance/mail/ and in the delivery log /mail/)"
	@echo "Replies to ticket emails: send them to 127.0.0.1:$(MAIL_IN_PORT) (docs/guides/support-desk.md)"
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	$(BIN)/python -m portal.devmail --port $(MAIL_PORT) --dir instance/mail & \
	$(DEV_ENV) $(BIN)/flask --app wsgi worker & \
	$(DEV_ENV) $(BIN)/flask --app wsgi mail-in & \
	$(DEV_ENV) $(BIN)/flask --app wsgi run --host 127.0.0.1 --port $(PORT) & \
	wait

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/bandit -q -c pyproject.toml -r portal -ll
	$(BIN)/lint-imports --no-cache

# sqlmap and wapiti (Debian packages, installed here when missing) against a local instance on a
# throwaway SQLite database with the demo data, signed in as each role. Reports in scan-reports/.
# Not part of `make test`: it takes long. The last result is in docs/guides/security.md ("make scan").
scan: install
	@command -v sqlmap >/dev/null && command -v wapiti >/dev/null || \
		(apt-get install -y sqlmap wapiti || sudo apt-get install -y sqlmap wapiti)
	$(BIN)/python tools/scan.py --reports scan-reports

# Browser tests run where Debian's chromium-headless-shell or chromium is installed (tests/browser/conftest.py).
# Where PORTAL_TEST_DATABASE_URL names an empty PostgreSQL database, the suite (browser journeys excepted)
# also runs on PostgreSQL, at the same time as the SQLite pass, with the clock moved by TEST_SHIFT
# (tests/clock.py): a test that only passes near the day it was written fails there first. The browser
# journeys then run as a third process beside them (they mostly wait for Chromium and the live server, and
# so fill the cores the other two leave idle). Their outputs follow the SQLite pass's. Each pass lists its slowest tests (pyproject.toml: --durations) and ends
# with its wall and CPU time; the last line is that of the whole, lint included (tools/timed.py). The target
# and how to read them: README, "The two commands".
TEST_SHIFT ?= +400d
test:
	@$(PYTHON) tools/timed.py "make test" -- $(MAKE) --no-print-directory test-passes

test-passes: install lint
	@if [ -n "$$PORTAL_TEST_DATABASE_URL" ]; then \
		log=$$(mktemp); browser_log=$$(mktemp); \
		( PORTAL_TEST_BACKEND=postgres PORTAL_TEST_NOW="$(TEST_SHIFT)" \
			$(PYTHON) tools/timed.py "PostgreSQL pass" -- $(BIN)/pytest -m "not browser" > "$$log" 2>&1 ) & pg=$$!; \
		( $(PYTHON) tools/timed.py "SQLite pass, browser journeys" -- $(BIN)/pytest -m browser > "$$browser_log" 2>&1 ) & \
			browser=$$!; \
		$(PYTHON) tools/timed.py "SQLite pass" -- $(BIN)/pytest -m "not browser"; sqlite_rc=$$?; \
		wait $$browser; browser_rc=$$?; wait $$pg; pg_rc=$$?; \
		echo "== the browser journeys on SQLite, beside the SQLite pass =="; cat "$$browser_log"; rm -f "$$browser_log"; \
		echo "== the same suite on PostgreSQL, the clock moved by $(TEST_SHIFT) =="; cat "$$log"; rm -f "$$log"; \
		[ $$sqlite_rc -eq 0 ] && [ $$browser_rc -eq 0 ] && [ $$pg_rc -eq 0 ]; \
	else \
		echo "PORTAL_TEST_DATABASE_URL is not set: the PostgreSQL pass (with the moved clock) is skipped."; \
		$(PYTHON) tools/timed.py "SQLite pass" -- $(BIN)/pytest; \
	fi

# The whole suite (SQLite, browser journeys included) at each moment of TEST_DATES, one after the other:
# Golden Week, the year-end closure a minute before the desk closes, a leap day at midnight in Tokyo.
# Not part of `make test` (three full passes); run it after touching anything that reads dates.
TEST_DATES ?= 2027-04-30T09:00+09:00 2027-12-29T17:59+09:00 2028-02-29T00:00+09:00
test-dates: install
	@for moment in $(TEST_DATES); do \
		echo "== PORTAL_TEST_NOW=$$moment =="; \
		PORTAL_TEST_NOW=$$moment $(BIN)/pytest -q || exit 1; \
	done

# The Hypothesis tests (every form and every page with a query, tests/test_fuzz_forms.py) with new random
# examples, PORTAL_FUZZ_SCALE (default 10) times as many as `make test` draws. At scale 10 on 2026-12-07: 278
# tests in 21 minutes at nice 19 beside a full `make test` on this 2-core machine (about 18 minutes of CPU).
# Not part of `make test` nor CI, whose examples are fixed (the "ci" profile in tests/conftest.py). A failure
# prints its example and a @reproduce_failure blob; keep it as an @example or a plain test once fixed.
fuzz: install
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q \
		$$(grep -rlw --include='test_*.py' hypothesis tests)

# Lighthouse 12 (pinned in tools/lighthouse/package-lock.json; 13 needs Node 22) in mobile mode on the
# learner's pages of a local instance with the demo data, using Debian's Chromium. Prints the scores and
# fails below 95. Not part of `make test`. The last result is in the README ("Screens").
LIGHTHOUSE_STAMP := tools/lighthouse/node_modules/.installed-stamp
$(LIGHTHOUSE_STAMP): tools/lighthouse/package.json tools/lighthouse/package-lock.json
	cd tools/lighthouse && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lighthouse: install $(LIGHTHOUSE_STAMP)
	CHROME_PATH=$${CHROME_PATH:-/usr/bin/chromium} $(BIN)/python tools/lighthouse.py

# The README's screenshots (docs/screenshots/), taken by the browser journeys.
screenshots: install
	PORTAL_SCREENSHOTS=1 $(BIN)/pytest tests/browser/test_experience.py -q

# Refresh the message catalogs after changing user-facing text.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -o portal/translations/messages.pot .
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations --no-fuzzy-matching

# Benchmarks (not tests, never part of `make test`): bench/load.py seeds a 20,000-learner organization,
# starts gunicorn (4 workers), the mail worker and locust (headless, its own process) and prints one table
# (learners on phones, administrators on results pages, a bare Flask baseline) plus the one-shot figures
# (CSV import, launch, email rate, results page). SQLite, then PostgreSQL when PORTAL_TEST_DATABASE_URL is
# set (its schema is dropped: use a scratch database). About 10 minutes per database; BENCH_ARGS=--quick
# for a short try. The single scripts (bench/mail_throughput.py, import_learners.py, ...) still run alone.
bench: install
	$(BIN)/python bench/load.py $(BENCH_ARGS)
	@if [ -n "$$PORTAL_TEST_DATABASE_URL" ]; then $(BIN)/python bench/load.py --postgres $(BENCH_ARGS); \
	else echo "PORTAL_TEST_DATABASE_URL is not set: the PostgreSQL run is skipped."; fi

# The CPU cost of each learner, anonymous and administrator page in process, as a share of a bare Flask view
# on the same app (thread CPU time, interleaved, medians of 150 requests; #17): about a minute, on a
# temporary SQLite database with the demo data, then on PORTAL_TEST_DATABASE_URL (its schema is dropped)
# when it is set. Not part of `make test`; docs/guides/performance.md.
bench-pages: install
	$(BIN)/python bench/pages.py $(BENCH_ARGS)
	@if [ -n "$$PORTAL_TEST_DATABASE_URL" ]; then $(BIN)/python bench/pages.py --postgres $(BENCH_ARGS); \
	else echo "PORTAL_TEST_DATABASE_URL is not set: the PostgreSQL run is skipped."; fi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
