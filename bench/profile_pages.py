"""Where a page's CPU goes: cProfile on thread time over repeated requests of the pages of bench/pages.py.

    .venv/bin/python bench/profile_pages.py                    # every page, top 25 functions by own time
    .venv/bin/python bench/profile_pages.py --page "learner home" --sort cumulative --top 60

Not a test. Uses the same data and clients as ``bench/pages.py`` (``make bench-pages``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pages  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", action="append", help="a row name of bench/pages.py (repeatable); default all")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    app = pages.make_app()
    world = pages.seed(app)
    learner = pages.signed_in(app, "learner01@demo.example.com")
    admin = pages.signed_in(app, "admin@demo.example.com")
    clients = {"learner": learner, "admin": admin, "anonymous": app.test_client()}
    token = pages._csrf(learner.get("/me/").get_data(as_text=True))
    for group, name, who, url, run in pages.requests(world, token, None):
        if args.page and name not in args.page:
            continue
        client = clients[who]
        for _ in range(5):
            run(client)
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        for _ in range(args.requests):
            run(client)
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        total = stats.total_tt / args.requests * 1000
        stats.sort_stats(args.sort).print_stats(args.top)
        print(f"== {group}: {name} {url}: {total:.2f} ms per request (profiled)")
        print(out.getvalue().split("\n", 6)[-1] if args.sort else out.getvalue())


if __name__ == "__main__":
    main()
