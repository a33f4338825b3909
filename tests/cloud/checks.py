"""Checks shared by the *_check.py scripts: one Messages client (Anthropic, AnthropicBedrock or AnthropicVertex)
driven through text, thinking, tools and a tool round trip, streamed and not. Each failed expectation exits non-zero
with `FAILED: …`; each passed one prints `ok: …`.

Model roles (a config's "models"): `script` answers a tool round trip (asked to "use the tool" it calls Bash with
`echo tool-ran-ok`; given that result it says "The tool said: tool-ran-ok"), `thinking` answers with a thinking
block when thinking is enabled, `tools` answers the weather prompt with tool_use blocks, `stream_error` fails
mid-stream. The cloud mocks do all of it with any model id; the Rust mock (tests/common) needs `script`,
`fixture-thinking`, `tool-use`, `fixture-mid_stream_error`.
"""

import json
import sys
import urllib.error
import urllib.request

import anthropic

WEATHER_TOOLS = [
    {"name": "get_weather", "description": "Weather for a city",
     "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}},
]
WEATHER = [{"role": "user", "content": "What's the weather in Paris and Tokyo?"}]
USE_TOOL = [{"role": "user", "content": "Please use the tool to print a marker."}]
BASH_TOOL = [{"name": "Bash", "description": "Run a command",
              "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]
THINKING = {"type": "enabled", "budget_tokens": 1024}


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}", flush=True)


def config():
    """The JSON config every check script takes as its only argument."""
    return json.loads(sys.argv[1])


def mock_get(mock, what):
    with urllib.request.urlopen(f"{mock}/_mock/{what}", timeout=10) as answer:
        return json.loads(answer.read())


def mock_post(mock, what, value):
    data = json.dumps(value).encode()
    request = urllib.request.Request(f"{mock}/_mock/{what}", data=data, method="POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def http(method, url, body=None, headers=None, raw=None):
    """A raw request (JSON `body`, or `raw` bytes): (status, headers dict with lower-case names, body bytes); HTTP
    errors are answers too."""
    data = json.dumps(body).encode() if body is not None else raw
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json",
                                                                            **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def texts(message):
    return "".join(b.text for b in message.content if b.type == "text")


# Non-ASCII on purpose: signatures and lengths are over bytes, not characters.
HELLO = [{"role": "user", "content": "Hello — grüß dich, こんにちは 🚀"}]


def text_round(client, label, model):
    message = client.messages.create(model=model, max_tokens=256, messages=HELLO)
    check(message.type == "message" and message.role == "assistant", f"{label}: create returns a message")
    check(texts(message), f"{label}: create has text ({texts(message)!r})")
    check(message.stop_reason == "end_turn", f"{label}: stop_reason end_turn ({message.stop_reason})")
    check(message.usage.output_tokens > 0, f"{label}: usage reported")
    with client.messages.stream(model=model, max_tokens=256, messages=HELLO) as s:
        streamed = "".join(s.text_stream)
        final = s.get_final_message()
    check(streamed and streamed == texts(final), f"{label}: streamed text {streamed!r} equals the final message")
    check(final.usage.output_tokens > 0, f"{label}: streamed usage reported")
    return message


def thinking_round(client, label, model, signed=True):
    message = client.messages.create(model=model, max_tokens=2048, thinking=THINKING,
                                     messages=[{"role": "user", "content": "Think, then say hello"}])
    kinds = [b.type for b in message.content]
    check("thinking" in kinds, f"{label}: thinking block in create ({kinds})")
    block = next(b for b in message.content if b.type == "thinking")
    check(block.thinking and (block.signature or not signed), f"{label}: thinking text (and signature) present")
    with client.messages.stream(model=model, max_tokens=2048, thinking=THINKING,
                                messages=[{"role": "user", "content": "Think, then say hello"}]) as s:
        thought = ""
        for event in s:
            if event.type == "thinking":
                thought += event.thinking
        final = s.get_final_message()
    streamed = next((b for b in final.content if b.type == "thinking"), None)
    check(streamed is not None and (streamed.signature or not signed), f"{label}: streamed thinking block")
    check(thought and thought == streamed.thinking, f"{label}: thinking deltas join to the final thinking")


def tools_round(client, label, model):
    message = client.messages.create(model=model, max_tokens=256, messages=WEATHER, tools=WEATHER_TOOLS)
    calls = [b for b in message.content if b.type == "tool_use"]
    check(calls and all(isinstance(c.input, dict) and c.input for c in calls), f"{label}: tool_use with inputs")
    check(message.stop_reason == "tool_use", f"{label}: stop_reason tool_use")
    with client.messages.stream(model=model, max_tokens=256, messages=WEATHER, tools=WEATHER_TOOLS) as s:
        final = s.get_final_message()
    streamed = [b for b in final.content if b.type == "tool_use"]
    check([c.input for c in streamed] == [c.input for c in calls], f"{label}: streamed tool inputs equal create's")
    check([c.name for c in streamed] == [c.name for c in calls], f"{label}: streamed tool names equal create's")


def tool_round_trip(client, label, model, stream):
    """Prompt → tool_use (Bash echo) → tool_result → final text naming the result."""
    def ask(messages):
        if not stream:
            return client.messages.create(model=model, max_tokens=256, messages=messages, tools=BASH_TOOL)
        with client.messages.stream(model=model, max_tokens=256, messages=messages, tools=BASH_TOOL) as s:
            return s.get_final_message()

    first = ask(USE_TOOL)
    call = next((b for b in first.content if b.type == "tool_use"), None)
    check(call is not None and "tool-ran-ok" in json.dumps(call.input), f"{label}: asked to run the marker tool")
    messages = USE_TOOL + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "tool-ran-ok"}]},
    ]
    second = ask(messages)
    check("tool-ran-ok" in texts(second), f"{label}: final answer names the tool result ({texts(second)!r})")


def stream_error_round(client, label, model):
    """A stream that fails midway: the text before the error arrives, then the SDK raises an APIStatusError."""
    got = ""
    try:
        with client.messages.stream(model=model, max_tokens=256, messages=[{"role": "user", "content": "Hi"}]) as s:
            for text in s.text_stream:
                got += text
    except anthropic.APIStatusError as e:
        check(got, f"{label}: text before the mid-stream error ({got!r})")
        print(f"   error: {type(e).__name__} {e}", flush=True)
        return e
    raise SystemExit(f"FAILED: {label}: the stream ended without an error (text {got!r})")


def run_all(client, label, models, round_trip=True):
    """Every round the config's models allow."""
    if models.get("text"):
        text_round(client, label, models["text"])
    if models.get("thinking"):
        thinking_round(client, label, models["thinking"], signed=not models.get("thinking_unsigned"))
    if models.get("tools"):
        tools_round(client, label, models["tools"])
    if round_trip and models.get("script"):
        tool_round_trip(client, label + " (create)", models["script"], stream=False)
        tool_round_trip(client, label + " (stream)", models["script"], stream=True)
    if models.get("stream_error"):
        error = stream_error_round(client, label, models["stream_error"])
        want = models.get("stream_error_type")
        if want:
            check(want in f"{error.body} {error}", f"{label}: the mid-stream error is a {want}")
