"""Static files: content-versioned URLs cached for a year, and gzip for text assets.

``url_for('static', filename=...)`` gains ``?v=<hash of the file>``, so a changed file gets a new URL
and browsers may keep every versioned file for a year (``immutable``). CSS, JavaScript and SVG are sent
gzip-compressed to clients that accept it. Pages themselves are not compressed: they carry CSRF tokens
next to reflected input (BREACH), and they are small.
"""

from __future__ import annotations

import gzip
import hashlib
import os

from flask import Flask, request

YEAR = 365 * 24 * 3600
COMPRESSIBLE = ("text/css", "text/javascript", "application/javascript", "image/svg+xml")
MIN_COMPRESS_BYTES = 1024


class _Cache:
    """Hashes and compressed bodies by (path, mtime, size): computed once per file version."""

    def __init__(self) -> None:
        self.versions: dict[tuple, str] = {}
        self.gzipped: dict[tuple, bytes] = {}

    @staticmethod
    def key(path: str) -> tuple | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return (path, stat.st_mtime_ns, stat.st_size)

    def version(self, path: str) -> str | None:
        key = self.key(path)
        if key is None:
            return None
        if key not in self.versions:
            with open(path, "rb") as f:
                self.versions[key] = hashlib.sha256(f.read()).hexdigest()[:12]
        return self.versions[key]

    def gzip(self, path: str, data: bytes) -> bytes:
        key = self.key(path)
        if key not in self.gzipped:
            self.gzipped[key] = gzip.compress(data, compresslevel=9, mtime=0)
        return self.gzipped[key]


def init_app(app: Flask) -> None:
    cache = _Cache()
    folder = app.static_folder

    def file_path(filename: str) -> str | None:
        path = os.path.realpath(os.path.join(folder, filename))
        return path if path.startswith(os.path.realpath(folder) + os.sep) else None

    # A page links the same few files: their versions by name, checked again only where templates are
    # reloaded (development), else once per process (a deployment restarts the workers).
    versions_by_name: dict[str, str | None] = {}

    def version_of(filename: str) -> str | None:
        if app.jinja_env.auto_reload or filename not in versions_by_name:
            path = file_path(filename)
            versions_by_name[filename] = cache.version(path) if path else None
        return versions_by_name[filename]

    @app.url_defaults
    def _versioned_static(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = version_of(values["filename"])
            if version:
                values["v"] = version

    @app.after_request
    def _static_caching(response):
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        if request.args.get("v"):
            response.cache_control.public = True
            response.cache_control.max_age = YEAR
            response.cache_control.immutable = True
            response.cache_control.no_cache = None
        if response.status_code == 200 and response.mimetype in COMPRESSIBLE:
            response.vary.add("Accept-Encoding")
            path = file_path(request.view_args.get("filename", ""))
            if path and "gzip" in request.accept_encodings and (response.content_length or 0) >= MIN_COMPRESS_BYTES:
                response.direct_passthrough = False
                body = cache.gzip(path, response.get_data())
                response.set_data(body)
                response.headers["Content-Encoding"] = "gzip"
                etag, weak = response.get_etag()
                if etag:
                    response.set_etag(etag + "-gz", weak=weak)
        return response
