"""Stand-ins for the language model only: each framework still parses the tool call, finds the
tool, runs it and records its output exactly as it does with a real model.

A *step* is what the model "says" at one turn: a function of what it has seen so far that
returns text, or a list of ``(tool name, arguments)`` to call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from livekit.agents import llm as lk
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from pipecat.frames.frames import Frame, FunctionCallFromLLM, LLMContextFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings

Calls = list[tuple[str, dict[str, Any]]]
LiveKitStep = Callable[[lk.ChatContext], "str | Calls"]


def last_tool_output(chat_ctx: lk.ChatContext) -> dict[str, Any]:
    """The JSON of the newest tool output the LiveKit model has seen."""
    outputs = [item for item in chat_ctx.items if item.type == "function_call_output"]
    assert outputs, "no tool has answered yet"
    return json.loads(outputs[-1].output)


class _ScriptedStream(lk.LLMStream):
    def __init__(self, model: ScriptedLLM, step: LiveKitStep, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self._step = step

    async def _run(self) -> None:
        said = self._step(self._chat_ctx)
        if isinstance(said, str):
            delta = lk.ChoiceDelta(role="assistant", content=said)
        else:
            delta = lk.ChoiceDelta(
                role="assistant",
                tool_calls=[
                    lk.FunctionToolCall(
                        name=name, arguments=json.dumps(arguments), call_id=f"call_{i}"
                    )
                    for i, (name, arguments) in enumerate(said)
                ],
            )
        self._event_ch.send_nowait(lk.ChatChunk(id="scripted", delta=delta))


class ScriptedLLM(lk.LLM):
    """A LiveKit ``LLM`` that answers each turn with the next step."""

    def __init__(self, steps: Sequence[LiveKitStep]) -> None:
        super().__init__()
        self._steps = list(steps)
        self.tools_offered: list[list[str]] = []

    def chat(
        self,
        *,
        chat_ctx: lk.ChatContext,
        tools: list[lk.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **_: Any,
    ) -> lk.LLMStream:
        self.tools_offered.append([getattr(t, "id", "") for t in tools or []])
        step = self._steps.pop(0)
        return _ScriptedStream(
            self, step, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class ScriptedLLMService(LLMService):
    """A Pipecat LLM service whose "completion" of a context is a fixed list of tool calls,
    handed to the service's own ``run_function_calls`` as a real service does."""

    def __init__(self, calls: Calls) -> None:
        super().__init__(
            settings=LLMSettings(
                model="scripted",
                system_instruction=None,
                temperature=None,
                max_tokens=None,
                top_p=None,
                top_k=None,
                frequency_penalty=None,
                presence_penalty=None,
                seed=None,
                filter_incomplete_user_turns=None,
                user_turn_completion_config=None,
            )
        )
        self._calls = calls

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self.run_function_calls(
                [
                    FunctionCallFromLLM(
                        function_name=name,
                        tool_call_id=f"tool_{i}",
                        arguments=arguments,
                        context=frame.context,
                    )
                    for i, (name, arguments) in enumerate(self._calls)
                ]
            )
        else:
            await self.push_frame(frame, direction)
