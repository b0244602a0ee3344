"""The resolution service: the C2PA Soft Binding Resolution API over a manifest repository (``aimark serve``)."""

from aimark.service.app import API_VERSION, ServiceConfig, create_app
from aimark.service.tokens import SCOPES, TokenError, TokenStore

__all__ = ["API_VERSION", "SCOPES", "ServiceConfig", "TokenError", "TokenStore", "create_app"]
