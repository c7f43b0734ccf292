"""The kiosk's typed client of the registrar (HTTP, JSON)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import requests

from election.primitives.blind_rsa import RSAPublicKey


class RegistrarRefused(Exception):
    """A refusal with the registrar's stable code and both languages' messages."""

    def __init__(self, code: str, message_ja: str, message_en: str, detail: str = "") -> None:
        super().__init__(f"{code}: {message_ja} / {message_en}")
        self.code, self.message_ja, self.message_en, self.detail = (
            code,
            message_ja,
            message_en,
            detail,
        )


class RegistrarUnavailable(Exception):
    pass


@dataclass
class RegistrarClient:
    base_url: str
    kiosk_id: str
    secret: str
    timeout: float = 10.0
    verify: bool | str = True
    """TLS: ``True`` (system CAs) or the path of the CA bundle the registrar's certificate
    chains to."""
    client_cert: tuple[str, str] | None = None
    """mTLS: (certificate, key) PEM paths of this kiosk's client certificate, whose common
    name is the kiosk id."""

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = requests.request(
                method,
                self.base_url.rstrip("/") + path,
                json=body,
                timeout=self.timeout,
                verify=self.verify,
                cert=self.client_cert,
                headers={"Authorization": f"Bearer {self.kiosk_id}:{self.secret}"},
            )
        except requests.RequestException as exc:
            raise RegistrarUnavailable(
                f"登録所に接続できません / cannot reach the registrar: {exc}"
            ) from exc
        data: dict[str, Any] = response.json() if response.content else {}
        if response.status_code >= 400:
            err = data.get("error", {})
            raise RegistrarRefused(
                err.get("code", f"http_{response.status_code}"),
                err.get("message_ja", ""),
                err.get("message_en", ""),
                err.get("detail", ""),
            )
        return data

    def info(self) -> tuple[bytes, RSAPublicKey]:
        data = self._call("GET", "/v1/info")
        key = data["registrar_key"]
        return bytes.fromhex(data["election_id"]), RSAPublicKey(int(key["n"], 16), int(key["e"]))

    def challenge(self) -> bytes:
        return bytes.fromhex(self._call("POST", "/v1/challenges")["nonce"])

    def issue(
        self, nonce: bytes, certificate: bytes, card_signature: bytes, blinded_token: bytes
    ) -> bytes:
        data = self._call(
            "POST",
            "/v1/tokens",
            {
                "nonce": nonce.hex(),
                "certificate": base64.b64encode(certificate).decode(),
                "card_signature": base64.b64encode(card_signature).decode(),
                "blinded_token": base64.b64encode(blinded_token).decode(),
            },
        )
        return base64.b64decode(data["blind_signature"])
