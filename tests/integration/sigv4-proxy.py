#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A SigV4-checking HTTP proxy for Assay's integration suite.

Every request that reaches it is signed again by botocore (Debian's python3-botocore,
an implementation independent of Assay's) with the fixed test credentials and the
request's own X-Amz-Date; a request whose Authorization does not match exactly is
refused with 403 (an S3 XML or DynamoDB JSON error, and one line on stderr with
botocore's canonical request), any other is forwarded to the backend and its answer
relayed unchanged.

    sigv4-proxy.py --backend http://127.0.0.1:PORT --service s3|dynamodb \
                   --region REGION --access-key-id ID --secret-access-key SECRET

It listens on 127.0.0.1 on a free port (or --port) and prints that port on stdout, then
a newline, once it accepts connections. GET /__assay_proxy/stats answers
{"forwarded": {"METHOD /raw/path": n, ...}, "refused": n}; POST /__assay_proxy/reset
sets the counters to zero.
"""

import argparse
import hmac
import http.client
import http.server
import json
import re
import sys
import threading
import types
import urllib.parse
from xml.sax.saxutils import escape

from botocore.auth import SigV4Auth, S3SigV4Auth, UNSIGNED_PAYLOAD
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

STATS_PATH = "/__assay_proxy/stats"
RESET_PATH = "/__assay_proxy/reset"
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "expect",
}
AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$"
)
BUFFER = 256 * 1024


class Refusal(Exception):
    def __init__(self, code, message, detail=""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


def _with_timestamp(cls):
    """botocore signs with the current time; sign with the request's X-Amz-Date instead."""

    class Signer(cls):
        def __init__(self, timestamp, *args):
            super().__init__(*args)
            self._timestamp = timestamp

        def _modify_request_before_signing(self, request):
            request.context["timestamp"] = self._timestamp
            super()._modify_request_before_signing(request)

    return Signer


S3Signer = _with_timestamp(S3SigV4Auth)
Signer = _with_timestamp(SigV4Auth)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.forwarded = {}
        self.refused = 0

    def count(self, method, path):
        with self.lock:
            key = f"{method} {path}"
            self.forwarded[key] = self.forwarded.get(key, 0) + 1

    def refuse(self):
        with self.lock:
            self.refused += 1

    def snapshot(self):
        with self.lock:
            return {"forwarded": dict(self.forwarded), "refused": self.refused}

    def reset(self):
        with self.lock:
            self.forwarded.clear()
            self.refused = 0


def split_query(query):
    """The query's (name, value) pairs, percent-decoded (a '+' stays a '+'), as a
    server sees them; botocore encodes them again canonically."""
    pairs = []
    if not query:
        return pairs
    for part in query.split("&"):
        name, _, value = part.partition("=")
        pairs.append((urllib.parse.unquote(name), urllib.parse.unquote(value)))
    return pairs


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "assay-sigv4-proxy"

    def log_message(self, fmt, *args):  # quiet: only refusals go to stderr
        pass

    # -- request body -------------------------------------------------------------
    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(length) if length else b""

    # -- signature ----------------------------------------------------------------
    def check_signature(self, body):
        cfg = self.server.cfg
        auth = self.headers.get("Authorization")
        if auth is None:
            raise Refusal("AccessDenied" if cfg.service == "s3" else "MissingAuthenticationTokenException",
                          "the request has no Authorization header")
        m = AUTH_RE.match(auth.strip())
        if not m:
            raise Refusal("AuthorizationHeaderMalformed" if cfg.service == "s3" else "IncompleteSignatureException",
                          "the Authorization header is not AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…",
                          auth)
        credential, signed_headers, signature = m.groups()
        access_key = credential.split("/", 1)[0]
        if access_key != cfg.access_key_id:
            raise Refusal("InvalidAccessKeyId" if cfg.service == "s3" else "UnrecognizedClientException",
                          f"unknown access key id {access_key}")
        amz_date = self.headers.get("X-Amz-Date")
        if amz_date is None:
            raise Refusal("AccessDenied" if cfg.service == "s3" else "IncompleteSignatureException",
                          "the request has no X-Amz-Date header")

        names = signed_headers.split(";")
        headers = {}
        for name in names:
            values = self.headers.get_all(name)
            if values is None:
                raise Refusal("SignatureDoesNotMatch" if cfg.service == "s3" else "InvalidSignatureException",
                              f"signed header {name} is not in the request")
            headers[name] = ",".join(values)

        raw_path, _, query = self.path.partition("?")
        host = self.headers.get("Host", f"127.0.0.1:{self.server.server_address[1]}")
        request = AWSRequest(method=self.command, url=f"http://{host}{raw_path}",
                             headers=headers, data=body,
                             params=split_query(query))
        creds = Credentials(cfg.access_key_id, cfg.secret_access_key)
        if cfg.service == "s3":
            sha = self.headers.get("X-Amz-Content-SHA256")
            if sha is None:
                raise Refusal("InvalidRequest", "S3 needs an x-amz-content-sha256 header")
            if sha == UNSIGNED_PAYLOAD:
                request.context["client_config"] = types.SimpleNamespace(
                    s3={"payload_signing_enabled": False})
            # else botocore hashes the body we received: a wrong hash is a mismatch
            signer = S3Signer(amz_date, creds, "s3", cfg.region)
        else:
            signer = Signer(amz_date, creds, cfg.service, cfg.region)
        signer.add_auth(request)
        expected = request.headers["Authorization"]
        em = AUTH_RE.match(expected)
        ok = (em.group(1) == credential and em.group(2) == signed_headers
              and hmac.compare_digest(em.group(3), signature))
        if not ok:
            del request.headers["Authorization"]
            canonical = signer.canonical_request(request)
            raise Refusal("SignatureDoesNotMatch" if cfg.service == "s3" else "InvalidSignatureException",
                          "the request signature we calculated does not match the signature you provided",
                          f"got [{auth}] expected [{expected}] canonical request [{canonical!r}]")

    # -- answers ------------------------------------------------------------------
    def send_refusal(self, refusal):
        cfg = self.server.cfg
        self.server.stats.refuse()
        print(f"sigv4-proxy: REFUSED {self.command} {self.path}: {refusal.code}: "
              f"{refusal.message} {refusal.detail}", file=sys.stderr, flush=True)
        if cfg.service == "s3":
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                    f"{escape(refusal.code)}</Code><Message>{escape(refusal.message)}</Message>"
                    "<Resource>" + escape(self.path) + "</Resource>"
                    "<RequestId>assay-sigv4-proxy</RequestId></Error>").encode()
            ctype = "application/xml"
        else:
            body = json.dumps({"__type": f"com.amazon.coral.service#{refusal.code}",
                               "message": refusal.message}).encode()
            ctype = "application/x-amz-json-1.0"
        self.send_response(403)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)) if self.command != "HEAD" else "0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def backend(self):
        conn = getattr(self, "_backend", None)
        if conn is None:
            cfg = self.server.cfg
            conn = http.client.HTTPConnection(cfg.backend_host, cfg.backend_port, timeout=120)
            self._backend = conn
        return conn

    def forward(self, body):
        raw_path = self.path.partition("?")[0]
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        if self.command in ("GET", "HEAD", "DELETE") and not body:
            del headers["Content-Length"]
        for attempt in (1, 2):
            conn = self.backend()
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                break
            except (ConnectionError, http.client.HTTPException):
                conn.close()  # a kept-alive connection the backend closed: once more
                self._backend = None
                if attempt == 2:
                    raise
        self.server.stats.count(self.command, raw_path)
        if self.server.cfg.verbose:
            print(f"sigv4-proxy: {self.command} {self.path} -> {response.status}",
                  file=sys.stderr, flush=True)

        self.send_response_only(response.status, response.reason)
        length = response.getheader("Content-Length")
        chunked = length is None and self.command != "HEAD" and response.status not in (204, 304)
        for name, value in response.getheaders():
            if name.lower() in HOP_BY_HOP:
                continue
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            response.read()
            return
        while True:
            data = response.read1(BUFFER) if chunked else response.read(BUFFER)
            if not data:
                break
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        if response.will_close:
            self.backend().close()
            self._backend = None

    def handle_any(self):
        raw_path = self.path.partition("?")[0]
        if raw_path == STATS_PATH and self.command == "GET":
            self.send_json(self.server.stats.snapshot())
            return
        if raw_path == RESET_PATH and self.command == "POST":
            self.read_body()
            self.server.stats.reset()
            self.send_json({})
            return
        body = self.read_body()
        try:
            self.check_signature(body)
        except Refusal as refusal:
            self.send_refusal(refusal)
            return
        try:
            self.forward(body)
        except OSError as e:
            print(f"sigv4-proxy: backend failed for {self.command} {self.path}: {e}",
                  file=sys.stderr, flush=True)
            self.close_connection = True
            try:
                self.send_error(502, "backend failed")
            except OSError:
                pass

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--access-key-id", required=True)
    parser.add_argument("--secret-access-key", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--verbose", action="store_true",
                        help="a line on stderr for every request forwarded")
    cfg = parser.parse_args()
    backend = urllib.parse.urlsplit(cfg.backend)
    cfg.backend_host = backend.hostname
    cfg.backend_port = backend.port or 80

    server = Server(("127.0.0.1", cfg.port), Handler)
    server.cfg = cfg
    server.stats = Stats()
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
