"""Production serving under cheroot (the same WSGI server as the registrar, docs/registrar.md):
a thread pool, TLS in process with the standard library's ``ssl``."""

from __future__ import annotations

import ssl

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from flask import Flask

from tally_server.config import TallyConfig


def make_server(app: Flask, config: TallyConfig, host: str, port: int) -> wsgi.Server:
    server = wsgi.Server(
        (host, port),
        app,
        numthreads=config.server_threads,
        timeout=config.read_timeout_seconds,
        server_name="ippyo-tally",
    )
    if config.tls_cert is not None and config.tls_key is not None:
        adapter = BuiltinSSLAdapter(str(config.tls_cert), str(config.tls_key))
        adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
        server.ssl_adapter = adapter
    return server
