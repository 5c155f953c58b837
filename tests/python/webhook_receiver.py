#!/usr/bin/env python3
"""A webhook receiver as a municipality's system would run one: HTTPS, and
every delivery checked with PyPI standardwebhooks (an implementation of
the Standard Webhooks signature that is not ours).

    webhook_receiver.py PORT CERT KEY SECRET LOG

Appends one JSON line per delivery to LOG: the webhook-id, whether the
signature verified, and the CloudEvent's type, subject and data. A
delivery that does not verify is answered 400. Prints "ready" once
listening.
"""
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

port, cert, key, secret, log = sys.argv[1:6]
webhook = Webhook(secret)
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = {"id": headers.get("webhook-id"), "content_type": headers.get("content-type")}
        try:
            event = webhook.verify(body, headers)
            entry.update(verified=True, type=event["type"], subject=event["subject"],
                         specversion=event["specversion"], source=event["source"],
                         event_id=event["id"], data=event["data"])
            status = 204
        except Exception as e:  # any failure to verify is the test's failure
            entry.update(verified=False, error=repr(e))
            status = 400
        with lock, open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
