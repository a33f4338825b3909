"""Drives gatehouse's converted routes with the official SDKs for issue 20's conversions; exits non-zero on the
first failed expectation. What the upstream received is checked by the calling Rust test (tests/sdk_clients.rs).

Usage: python3 conversion_sdk_check.py <gateway base url>
`oai:` routes to an OpenAI-format mock and `mock:` to an Anthropic-format mock (tests/common/mod.rs); the
`fixture-<name>` models answer with tests/fixtures/{openai,anthropic}_responses/<name>.json.
"""

import base64
import json
import sys

import anthropic
import openai
import pydantic

BASE = sys.argv[1]
claude = anthropic.Anthropic(base_url=BASE, api_key="sk-client", max_retries=0, timeout=30)
gpt = openai.OpenAI(base_url=f"{BASE}/v1", api_key="sk-client", max_retries=0, timeout=30)

# A one-page PDF; the Rust side looks for exactly this base64 in the upstream request.
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
                       b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n").decode()


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def pdf_document():
    message = claude.messages.create(
        model="oai:fixture-text",
        max_tokens=200,
        messages=[{"role": "user", "content": [
            {"type": "document", "title": "invoice.pdf",
             "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}},
            {"type": "text", "text": "What is the total on this invoice?"},
        ]}],
    )
    check(message.content and message.content[0].type == "text", "PDF document: the OpenAI-format provider answered")


def output_config():
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"],
              "additionalProperties": False}
    message = claude.messages.create(
        model="oai:fixture-i04_structured_output",
        max_tokens=200,
        messages=[{"role": "user", "content": "Title for: help me fix the flaky login test"}],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    title = json.loads(message.content[0].text)["title"]
    check(title == "Fix the flaky login test", f"output_config: structured answer parsed ({title!r})")


class CalendarEvent(pydantic.BaseModel):
    name: str
    date: str
    participants: list[str]


def chat_parse():
    parse = gpt.beta.chat.completions.parse if hasattr(gpt, "beta") else gpt.chat.completions.parse
    completion = parse(
        model="mock:fixture-i11_structured_output",
        messages=[
            {"role": "system", "content": "Extract the event information."},
            {"role": "user", "content": "Alice and Bob are going to a science fair on Friday."},
        ],
        response_format=CalendarEvent,
    )
    event = completion.choices[0].message.parsed
    check(isinstance(event, CalendarEvent), ".parse() returns the Pydantic model")
    check(event.participants == ["Alice", "Bob"] and event.date == "Friday", f".parse() fields ({event!r})")


def refusal_of_unconvertible():
    try:
        claude.messages.create(
            model="oai:fixture-text", max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "web_fetch_20250910", "name": "web_fetch"}],
        )
        check(False, "a server tool is refused")
    except anthropic.BadRequestError as e:
        check("tools[0].type" in e.body["error"]["message"], "a server tool is refused with a 400 naming tools[0].type")
    try:
        gpt.chat.completions.create(model="mock:claude", messages=[{"role": "user", "content": "hi"}], logprobs=True)
        check(False, "logprobs is refused")
    except openai.BadRequestError as e:
        check("logprobs" in str(e), "logprobs is refused with a 400 naming it")


pdf_document()
output_config()
chat_parse()
refusal_of_unconvertible()
print("all conversion SDK checks passed")
