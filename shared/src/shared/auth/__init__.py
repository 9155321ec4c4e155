"""JWT bearer authentication: roles and scope claims."""

from shared.auth.tokens import Principal, Role, TokenError, TokenVerifier, mint_token

__all__ = ["Principal", "Role", "TokenError", "TokenVerifier", "mint_token"]
