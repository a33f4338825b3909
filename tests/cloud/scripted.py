"""What the cloud mocks answer: one scripted Anthropic turn, as a Messages JSON or as a list of stream events.

Shared by mock_bedrock.py and mock_vertex.py, so a client sees the same conversation from either. The turn is
chosen from the request body (the Messages body, whatever the wire format around it):
- the last user turn carries a tool_result containing `tool-ran-ok` → text "The tool said: tool-ran-ok";
- the prompt asks to "use the tool" → a Bash tool_use running `echo tool-ran-ok` (Claude Code runs it);
- tools are offered and the prompt mentions the weather → two get_weather tool_use blocks (Paris, Tokyo);
- otherwise → text "Hello from the <name> mock".
When the body enables extended thinking, a thinking block (with signature) comes first.
"""

import json

TOOL_MARKER = "tool-ran-ok"
THINKING_TEXT = "Let me think about this step by step."
THINKING_SIGNATURE = "EqQBmockSignatureForTests"


def _texts(value):
    """Every string inside a JSON value, for simple substring checks over a whole conversation."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)


def _last_user_has_tool_result(messages):
    for message in reversed(messages or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if not isinstance(content, list):
            return False
        return any(
            isinstance(part, dict) and part.get("type") == "tool_result" and TOOL_MARKER in json.dumps(part)
            for part in content
        )
    return False


def blocks_for(body, name):
    """The content blocks (final form) and stop reason the mock answers `body` with."""
    messages = body.get("messages") or []
    prompt = " ".join(_texts(messages)).lower()
    blocks = []
    thinking = body.get("thinking") or {}
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        blocks.append({"type": "thinking", "thinking": THINKING_TEXT, "signature": THINKING_SIGNATURE})
    if _last_user_has_tool_result(messages):
        blocks.append({"type": "text", "text": f"The tool said: {TOOL_MARKER}"})
        return blocks, "end_turn"
    if "use the tool" in prompt:
        blocks.append({"type": "tool_use", "id": "toolu_cloud_1", "name": "Bash",
                       "input": {"command": f"echo {TOOL_MARKER}", "description": "Print a marker"}})
        return blocks, "tool_use"
    if body.get("tools") and "weather" in prompt:
        blocks.append({"type": "tool_use", "id": "toolu_cloud_w1", "name": "get_weather", "input": {"location": "Paris"}})
        blocks.append({"type": "tool_use", "id": "toolu_cloud_w2", "name": "get_weather", "input": {"location": "Tokyo"}})
        return blocks, "tool_use"
    blocks.append({"type": "text", "text": f"Hello from the {name} mock"})
    return blocks, "end_turn"


USAGE = {"input_tokens": 25, "output_tokens": 11}


def message(body, name, model):
    """The non-streaming answer: a complete Messages JSON object."""
    blocks, stop = blocks_for(body, name)
    return {"id": f"msg_{name}_1", "type": "message", "role": "assistant", "model": model, "content": blocks,
            "stop_reason": stop, "stop_sequence": None, "usage": dict(USAGE)}


def events(body, name, model):
    """The streaming answer: Anthropic stream events (dicts) in order, deltas split so a client must join them."""
    blocks, stop = blocks_for(body, name)
    out = [{"type": "message_start", "message": {
        "id": f"msg_{name}_2", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": USAGE["input_tokens"], "output_tokens": 1}}}]
    for index, block in enumerate(blocks):
        kind = block["type"]
        if kind == "thinking":
            out.append({"type": "content_block_start", "index": index,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
            half = len(block["thinking"]) // 2
            for piece in (block["thinking"][:half], block["thinking"][half:]):
                out.append({"type": "content_block_delta", "index": index,
                            "delta": {"type": "thinking_delta", "thinking": piece}})
            out.append({"type": "content_block_delta", "index": index,
                        "delta": {"type": "signature_delta", "signature": block["signature"]}})
        elif kind == "text":
            out.append({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
            if index == 0 or blocks[0]["type"] == "thinking":
                out.append({"type": "ping"})
            half = len(block["text"]) // 2
            for piece in (block["text"][:half], block["text"][half:]):
                out.append({"type": "content_block_delta", "index": index,
                            "delta": {"type": "text_delta", "text": piece}})
        else:
            out.append({"type": "content_block_start", "index": index,
                        "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
            raw = json.dumps(block["input"])
            half = len(raw) // 2
            for piece in (raw[:half], raw[half:]):
                out.append({"type": "content_block_delta", "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece}})
        out.append({"type": "content_block_stop", "index": index})
    out.append({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": USAGE["output_tokens"]}})
    out.append({"type": "message_stop"})
    return out


def text_prefix_events(body, name, model):
    """The first events of a text answer (message_start, a text block start, one delta): what a stream that
    fails midway has sent before its error."""
    return [
        {"type": "message_start", "message": {
            "id": f"msg_{name}_3", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Partial answer"}},
    ]


def count_tokens(body):
    """A deterministic token count for a Messages body: 100 + 10 per message (checks assert it came through)."""
    return 100 + 10 * len(body.get("messages") or [])
