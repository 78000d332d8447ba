"""A callback's seal: WeChat's signature on every request, and in safe mode the AES envelope with its
msg_signature around the message and around our passive reply."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from bot.channels.wechat_wire import BadCallback, callback_fields, passive_xml, read_xml

FRESH_SECONDS = 300  # how far a callback's timestamp may be from our clock


class Forged(Exception):
    """A signature or msg_signature does not hold (or safe mode got a plaintext callback)."""


class Seal:
    """Checks and opens callbacks, and seals passive replies, for one account."""

    def __init__(self, token: str, app_id: str, aes_key: str = "") -> None:
        self.token = token
        self.crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None

    def signed(self, query: Mapping[str, str]) -> bool:
        """Whether the request carries WeChat's signature of our token, its timestamp and nonce."""
        try:
            check_signature(
                self.token, query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", "")
            )
        except InvalidSignatureException:
            return False
        return True

    def fresh(self, query: Mapping[str, str], now: float) -> bool:
        """Whether a signed query is recent: its timestamp within minutes of our clock. The signature
        covers neither the body nor the sender, so a query copied from a log must not carry forged
        callbacks for ever (WeChat's retries repeat the query, so a nonce may come twice; in safe mode
        msg_signature covers the body as well)."""
        try:
            stamp = int(query.get("timestamp", ""))
        except ValueError:
            return False
        return abs(now - stamp) <= FRESH_SECONDS

    def open(self, body: bytes, query: Mapping[str, str]) -> dict[str, str]:
        """The callback's fields, decrypted in safe mode. Raises Forged when msg_signature fails (or
        the callback is not encrypted in safe mode), BadCallback when the body is no callback."""
        if self.crypto is None:
            return callback_fields(body)
        signature = query.get("msg_signature", "")
        if query.get("encrypt_type") != "aes" or not signature:
            raise Forged("safe mode: the callback must be encrypted")
        encrypt = read_xml(body).get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise BadCallback("no Encrypt element")
        try:
            plain = self.crypto.decrypt_message(
                {"Encrypt": encrypt}, signature, query.get("timestamp", ""), query.get("nonce", "")
            )
        except InvalidSignatureException:
            raise Forged("msg_signature") from None
        except Exception as exc:  # a wrong key, padding or app id
            raise BadCallback(f"cannot decrypt: {type(exc).__name__}") from None
        return callback_fields(plain)

    def reply(self, text: str, fields: Mapping[str, str], now: int) -> str:
        """A passive text reply to a callback, encrypted and signed in safe mode."""
        xml = passive_xml(text, fields.get("FromUserName", ""), fields.get("ToUserName", ""), now)
        if self.crypto is None:
            return xml
        return str(self.crypto.encrypt_message(xml, secrets.token_hex(8), str(now)))
