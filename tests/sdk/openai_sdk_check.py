"""Drives gatehouse's /v1/chat/completions with the official `openai` Python SDK; exits non-zero on the first
failed expectation.

Usage: python3 openai_sdk_check.py <gateway base url>
The gateway routes `oai:` to an OpenAI-format mock (passthrough) and `mock:` to an Anthropic-format mock
(converted); see tests/common/mod.rs for the mock models.
"""

import json
import sys

import openai

BASE = sys.argv[1]
client = openai.OpenAI(base_url=f"{BASE}/v1", api_key="sk-client", max_retries=0, timeout=30)

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}]
PROMPT = [
    {"role": "system", "content": "You are brief."},
    {"role": "user", "content": "What's the weather in Paris and Tokyo?"},
]


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def create_text(model):
    completion = client.chat.completions.create(model=model, messages=PROMPT, max_tokens=100)
    check(completion.object == "chat.completion", f"{model}: create returns a chat.completion")
    message = completion.choices[0].message
    check(message.role == "assistant" and message.content, f"{model}: text content")
    check(completion.choices[0].finish_reason == "stop", f"{model}: finish_reason stop")
    check(completion.usage.completion_tokens > 0 and completion.usage.prompt_tokens > 0, f"{model}: usage reported")
    return message.content


def stream_text(model):
    chunks = list(client.chat.completions.create(
        model=model, messages=PROMPT, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    check(text, f"{model}: streamed text")
    check(finishes == ["stop"], f"{model}: one finish_reason ({finishes})")
    last = chunks[-1]
    check(last.choices == [] and last.usage and last.usage.total_tokens > 0, f"{model}: usage chunk received last")
    if model.startswith("mock:"):
        # (The OpenAI-format mock replays a fixed recording, usage chunk included, whatever was asked.)
        without = list(client.chat.completions.create(model=model, messages=PROMPT, stream=True))
        check(all(c.usage is None for c in without), f"{model}: no usage chunk unless asked for")
    return text


def create_tools(model):
    completion = client.chat.completions.create(model=model, messages=PROMPT, tools=TOOLS, tool_choice="auto")
    choice = completion.choices[0]
    calls = choice.message.tool_calls or []
    check(len(calls) == 2, f"{model}: two parallel tool calls ({len(calls)})")
    arguments = [json.loads(c.function.arguments) for c in calls]
    check(all(c.type == "function" and c.function.name == "get_weather" and c.id for c in calls),
          f"{model}: tool calls have id, type and name")
    check(all(isinstance(a, dict) and a.get("location") for a in arguments), f"{model}: arguments parse to objects")
    check(choice.finish_reason == "tool_calls", f"{model}: finish_reason tool_calls")
    return arguments


def stream_tools(model, expected_arguments):
    calls = {}
    finish = None
    for chunk in client.chat.completions.create(model=model, messages=PROMPT, tools=TOOLS, stream=True):
        if not chunk.choices:
            continue
        for call in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"id": None, "name": None, "arguments": ""})
            entry["id"] = entry["id"] or call.id
            entry["name"] = entry["name"] or (call.function and call.function.name)
            entry["arguments"] += (call.function and call.function.arguments) or ""
        finish = chunk.choices[0].finish_reason or finish
    check(sorted(calls) == list(range(len(calls))), f"{model}: streamed tool call indices contiguous from 0")
    arguments = [json.loads(calls[i]["arguments"]) for i in sorted(calls)]
    check(arguments == expected_arguments, f"{model}: streamed arguments equal non-streamed ({arguments})")
    check(all(c["id"] and c["name"] == "get_weather" for c in calls.values()), f"{model}: streamed ids and names")
    check(finish == "tool_calls", f"{model}: streamed finish_reason tool_calls")


def stream_helper(model):
    """The SDK's own accumulator (`client.chat.completions.stream`) builds the final completion from the chunks."""
    with client.chat.completions.stream(model=model, messages=PROMPT, tools=TOOLS) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    check(len(calls) == 2 and all(json.loads(c.function.arguments) for c in calls),
          f"{model}: the SDK's stream helper assembles both tool calls")


def errors():
    for model in ["oai:error-429", "mock:error-429"]:
        try:
            client.chat.completions.create(model=model, messages=PROMPT)
            check(False, f"{model}: 429 raises")
        except openai.RateLimitError as e:
            check(e.status_code == 429 and isinstance(e.body, dict) and e.body.get("message"),
                  f"{model}: 429 → RateLimitError with an OpenAI error body")
    try:
        client.chat.completions.create(model="nosuch:model", messages=PROMPT)
        check(False, "unknown provider raises")
    except openai.BadRequestError as e:
        check(e.code == "model_not_found" and "nosuch" in e.message, "unknown provider → BadRequestError model_not_found")
    try:
        client.chat.completions.create(model="mock:m", messages=[])
        check(False, "empty messages raise")
    except openai.BadRequestError as e:
        check(e.type == "invalid_request_error" and "messages" in e.message, "empty messages → invalid_request_error")
    try:
        for _ in client.chat.completions.create(model="mock:drop-mid-stream", messages=PROMPT, stream=True):
            pass
        check(False, "a stream that breaks raises")
    except openai.APIError as e:
        check("upstream" in str(e), f"mid-stream failure → APIError from the error chunk ({e})")


create_text("oai:fixture-text")
create_text("mock:claude")
stream_text("oai:fixture-text")
stream_text("mock:claude")
# The passthrough fixtures carry the same two calls (tool_calls.json and parallel_tools.sse).
expected = create_tools("oai:fixture-tool_calls")
stream_tools("oai:fixture-parallel_tools", expected)
converted = create_tools("mock:tool-use")
stream_tools("mock:tool-use", converted)
stream_helper("mock:tool-use")
stream_helper("oai:fixture-parallel_tools")
errors()
print("all openai SDK checks passed")
