"""The one error type of the client: the server's ``{"error": {"code", "message", ...}}``."""

from __future__ import annotations

from typing import Any

from .models import SlotOption


class PillowCalendarError(Exception):
    """A failure the server answered (or the transport gave), with the server's stable ``code``.

    ``message`` is written to be spoken to a caller. When a time was taken (``slot_unavailable``)
    ``alternatives`` holds up to three nearby options to offer instead; when one argument is to
    blame, ``field`` names it.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        alternatives: list[SlotOption] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.alternatives = alternatives or []
        self.body = body or {}

    @classmethod
    def from_response(cls, status: int, body: Any) -> PillowCalendarError:
        """Reads our error shape; anything else (a proxy's HTML page) becomes ``http_error``."""
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(status, "http_error", f"The calendar answered HTTP {status}.", body=None)
        alternatives = [
            SlotOption.from_json(a) for a in error.get("alternatives") or [] if isinstance(a, dict)
        ]
        return cls(
            status,
            str(error.get("code") or "http_error"),
            str(error.get("message") or f"The calendar answered HTTP {status}."),
            field=error.get("field") if isinstance(error.get("field"), str) else None,
            alternatives=alternatives,
            body=body,
        )

    def to_tool_result(self) -> dict[str, Any]:
        """What a tool hands the model: the code, the sentence to say and the alternatives."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        if self.alternatives:
            error["alternatives"] = [a.to_json() for a in self.alternatives]
        return {"error": error}
