"""The baseline of bench/load.py: a bare Flask view under the same gunicorn settings as the portal.

Every portal page's throughput is reported as a share of this one's: the framework's own ceiling on the
same machine in the same run.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "ok"
