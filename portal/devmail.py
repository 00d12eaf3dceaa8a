"""A local SMTP sink for development: ``python -m portal.devmail --port 8025 --dir instance/mail``
(aiosmtpd is a development dependency: `make run` installs it).

Every message the portal sends arrives over real SMTP, is saved as an .eml file and announced on
the console, so a developer can open the links in it.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import time
from datetime import UTC, datetime

from aiosmtpd.controller import Controller


class SaveToFolder:
    def __init__(self, folder: str):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        path = os.path.join(self.folder, f"{stamp}.eml")
        with open(path, "wb") as fh:
            fh.write(envelope.content)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body else ""
        print(f"\n=== mail to {', '.join(envelope.rcpt_tos)}: {message['Subject']} ({path})\n{text}", flush=True)
        return "250 Message accepted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", default="instance/mail")
    args = parser.parse_args()
    controller = Controller(SaveToFolder(args.dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"Mail sink listening on {args.host}:{args.port}, saving to {args.dir}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
