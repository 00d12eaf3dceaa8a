"""Static files: versioned URLs cached for a year, gzip for text assets, never for pages."""

from __future__ import annotations

import gzip
import re

from flask import url_for

from tests.conftest import BACKEND_INDEPENDENT

pytestmark = BACKEND_INDEPENDENT


def test_static_urls_carry_the_file_version_and_are_cached_for_a_year(app, client):
    with app.test_request_context():
        url = url_for("static", filename="app.css")
    assert re.search(r"/static/app\.css\?v=[0-9a-f]{12}$", url)
    response = client.get(url)
    assert response.status_code == 200
    cache = response.headers["Cache-Control"]
    assert "max-age=31536000" in cache and "immutable" in cache and "public" in cache
    # The login page links the versioned files.
    assert 'app.css?v=' in client.get("/login").get_data(as_text=True)


def test_unversioned_static_files_are_revalidated(client):
    response = client.get("/static/app.css")
    assert "immutable" not in response.headers.get("Cache-Control", "")


def test_text_assets_are_gzipped_for_clients_that_accept_it(client):
    plain = client.get("/static/vendor/pico-2.1.1/pico.min.css")
    zipped = client.get("/static/vendor/pico-2.1.1/pico.min.css", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 3


def test_pages_are_never_compressed(client):
    response = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_the_favicon_exists(client):
    assert client.get("/static/favicon.svg").status_code == 200
