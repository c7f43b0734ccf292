"""Production serving: the registrar's WSGI app under cheroot, with TLS and optional kiosk
client certificates (mTLS).

cheroot (CherryPy's server, kept and released independently) is chosen because it is a
thread-pool WSGI server that terminates TLS *in process* with the standard library's ``ssl`` —
so client certificates need no reverse proxy — and runs unchanged on one machine without a
process manager; the registrar is I/O and database bound and its signer (a PKCS#11 session)
is per process, which favours threads over pre-forked workers (gunicorn's model).
docs/registrar.md.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from flask import Flask


def make_server(
    app: Flask,
    host: str,
    port: int,
    *,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
    client_ca: str | Path | None = None,
    threads: int = 16,
    timeout: int = 10,
) -> wsgi.Server:
    """A cheroot server for ``app``; ``timeout`` bounds each socket read (a slow body frees
    its worker after that many seconds). With ``client_ca``, kiosks must present a
    certificate issued by that CA (TLS handshake refused otherwise)."""
    server = wsgi.Server(
        (host, port), app, numthreads=threads, timeout=timeout, server_name="ippyo-registrar"
    )
    if tls_cert or tls_key:
        if not (tls_cert and tls_key):
            raise ValueError("TLS needs both a certificate and a key")
        adapter = BuiltinSSLAdapter(str(tls_cert), str(tls_key))
        adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
        if client_ca:
            adapter.context.verify_mode = ssl.CERT_REQUIRED
            adapter.context.load_verify_locations(cafile=str(client_ca))
        server.ssl_adapter = adapter
    elif client_ca:
        raise ValueError("client certificates need TLS: set TLS_CERT and TLS_KEY")
    return server


def serve_app(app: Flask, host: str, port: int) -> None:
    """Serve until interrupted, with the app's TLS settings (TLS_CERT, TLS_KEY,
    TLS_CLIENT_CA, SERVER_THREADS, READ_TIMEOUT)."""
    cfg = app.config
    server = make_server(
        app,
        host,
        port,
        tls_cert=cfg.get("TLS_CERT"),
        tls_key=cfg.get("TLS_KEY"),
        client_ca=cfg.get("TLS_CLIENT_CA"),
        threads=int(cfg.get("SERVER_THREADS", 16)),
        timeout=int(cfg.get("READ_TIMEOUT", 10)),
    )
    try:
        server.safe_start()
    finally:
        server.stop()
