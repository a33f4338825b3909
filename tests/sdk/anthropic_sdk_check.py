"""Drives gatehouse with the official `anthropic` Python SDK; exits non-zero on the first failed expectation.

Usage: python3 anthropic_sdk_check.py <gateway base url>
The gateway routes `mock:` to an Anthropic-format mock and `oai:` to an OpenAI-format mock (tests/common/mod.rs).
"""

import sys

import anthropic

BASE = sys.argv[1]
client = anthropic.Anthropic(base_url=BASE, api_key="sk-client", max_retries=0, timeout=30)

WEATHER_TOOLS = [
    {"name": "get_weather", "description": "Weather for a city",
     "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}},
    {"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {}}},
    {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {}}},
]
PROMPT = [{"role": "user", "content": "What's the weather in Paris and Tokyo?"}]


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def create_text(model):
    message = client.messages.create(model=model, max_tokens=100, messages=PROMPT)
    check(message.type == "message" and message.role == "assistant", f"{model}: create returns a message")
    check(message.content and message.content[0].type == "text" and message.content[0].text, f"{model}: text content")
    check(message.usage.output_tokens > 0, f"{model}: usage reported")
    check(message.stop_reason == "end_turn", f"{model}: stop_reason end_turn")


def stream_text(model):
    with client.messages.stream(model=model, max_tokens=100, messages=PROMPT) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    check(text and final.content[0].text == text, f"{model}: streamed text equals the final message")
    check(final.usage.output_tokens > 0, f"{model}: streamed usage reported")


def create_tools(model):
    message = client.messages.create(model=model, max_tokens=100, messages=PROMPT, tools=WEATHER_TOOLS)
    calls = [b for b in message.content if b.type == "tool_use"]
    check(len(calls) >= 2, f"{model}: parallel tool calls ({len(calls)})")
    check(all(isinstance(c.input, dict) and c.input for c in calls), f"{model}: tool inputs are objects")
    check(message.stop_reason == "tool_use", f"{model}: stop_reason tool_use")
    return calls


def stream_tools(model, expected_calls):
    with client.messages.stream(model=model, max_tokens=100, messages=PROMPT, tools=WEATHER_TOOLS) as stream:
        for _ in stream:
            pass
        final = stream.get_final_message()
    calls = [b for b in final.content if b.type == "tool_use"]
    check([c.input for c in calls] == [c.input for c in expected_calls], f"{model}: streamed tool inputs equal non-streamed")
    check(final.stop_reason == "tool_use", f"{model}: streamed stop_reason tool_use")


def count_tokens():
    counted = client.messages.count_tokens(model="mock:claude", messages=PROMPT)
    check(counted.input_tokens == 42, "anthropic format: count_tokens forwarded upstream")
    estimated = client.messages.count_tokens(model="oai:gpt-4o", messages=PROMPT, tools=WEATHER_TOOLS)
    check(estimated.input_tokens > 10, f"openai format: count_tokens estimated locally ({estimated.input_tokens})")


def models():
    ids = [m.id for m in client.models.list(limit=2)]  # auto-pagination follows has_more / last_id
    check({"mock:claude-mock-1", "mock:claude-mock-2", "oai:gpt-mock"} <= set(ids), f"models.list pages through all ({ids})")


def anthropic_format_tools():
    tool_prompt = [{"role": "user", "content": "Please use the tool."}]
    message = client.messages.create(model="mock:script", max_tokens=100, messages=tool_prompt, tools=WEATHER_TOOLS)
    calls = [b for b in message.content if b.type == "tool_use"]
    check(calls and calls[0].input.get("command") == "echo tool-ran-ok", "anthropic format: tool_use input")
    with client.messages.stream(model="mock:script", max_tokens=100, messages=tool_prompt, tools=WEATHER_TOOLS) as stream:
        final = stream.get_final_message()
    check(final.content[0].type == "tool_use" and final.content[0].input == calls[0].input, "anthropic format: streamed tool_use")


def errors():
    try:
        client.messages.create(model="oai:error-429", max_tokens=10, messages=PROMPT)
        check(False, "429 raises")
    except anthropic.RateLimitError as e:
        check(e.status_code == 429 and e.body["error"]["type"] == "rate_limit_error", "429 → RateLimitError")
    try:
        client.messages.create(model="nosuch:model", max_tokens=10, messages=PROMPT)
        check(False, "unknown provider raises")
    except anthropic.BadRequestError as e:
        check("nosuch" in e.body["error"]["message"], "unknown provider → BadRequestError naming it")


create_text("mock:claude")
stream_text("mock:claude")
create_text("oai:fixture-text")
stream_text("oai:fixture-text")
calls = create_tools("oai:fixture-tool_calls")
stream_tools("oai:fixture-parallel_tools", calls)
anthropic_format_tools()
count_tokens()
models()
errors()
print("all anthropic SDK checks passed")
