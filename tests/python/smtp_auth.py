"""An SMTP relay that requires AUTH (PyPI aiosmtpd), for the notification
tests: `python3 smtp_auth.py PORT MAILDIR USER PASSWORD`. Accepts mail only
after a successful AUTH PLAIN or LOGIN and stores it in MAILDIR.
"""
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    # handled=False: the server answers (535 on failure) itself.
    return AuthResult(success=ok, handled=False)


controller = Controller(
    Mailbox(maildir),
    hostname="127.0.0.1",
    port=port,
    authenticator=authenticator,
    auth_required=True,
    # Loopback only, in tests: production relays take AUTH over TLS.
    auth_require_tls=False,
)
controller.start()
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
