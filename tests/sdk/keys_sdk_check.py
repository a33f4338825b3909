"""The official `anthropic` Python SDK with gatehouse virtual keys; exits non-zero on the first failed expectation.

Usage: python3 keys_sdk_check.py <gateway url> <open key> <rpm-1 key> <spent-budget key>
The gateway routes `mock:` to an Anthropic-format mock holding its own provider key (tests/sdk_clients.rs).
"""

import sys
import time

import anthropic

BASE, OPEN, RPM_ONE, SPENT = sys.argv[1:5]
PROMPT = [{"role": "user", "content": "Hi"}]


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def ask(client, model="mock:m"):
    return client.messages.create(model=model, max_tokens=64, messages=PROMPT)


# The key in each header style the SDK can send: api_key (x-api-key in 1.x, Authorization: Bearer in 2.x),
# auth_token (Authorization: Bearer), and x-gatehouse-key beside a key of the client's own.
styles = {
    "api_key": anthropic.Anthropic(base_url=BASE, api_key=OPEN, max_retries=0),
    "auth_token": anthropic.Anthropic(base_url=BASE, auth_token=OPEN, max_retries=0),
    "x-gatehouse-key": anthropic.Anthropic(
        base_url=BASE, api_key="sk-ant-own", max_retries=0, default_headers={"x-gatehouse-key": OPEN}
    ),
}
for style, client in styles.items():
    message = ask(client)
    check(message.type == "message" and message.content[0].text, f"a virtual key as {style} is accepted")
    with client.messages.stream(model="mock:m", max_tokens=64, messages=PROMPT) as stream:
        check("".join(stream.text_stream), f"a virtual key as {style} streams")

try:
    ask(anthropic.Anthropic(base_url=BASE, api_key="gh_not-a-key-of-this-gateway", max_retries=0))
    check(False, "an unknown virtual key is refused")
except anthropic.AuthenticationError as e:
    check(e.status_code == 401, "an unknown virtual key is an AuthenticationError (401)")

limited = anthropic.Anthropic(base_url=BASE, api_key=RPM_ONE, max_retries=0)
ask(limited)
try:
    ask(limited)
    check(False, "the second request in a minute is over rpm=1")
except anthropic.RateLimitError as e:
    retry_after = int(e.response.headers["retry-after"])
    check(1 <= retry_after <= 60, f"RateLimitError with retry-after {retry_after}")
    check("rpm" in e.message, f"the message names the limit: {e.message}")
    check(e.response.headers.get("anthropic-ratelimit-requests-remaining") == "0", "the rate-limit headers say 0 left")

patient = anthropic.Anthropic(base_url=BASE, api_key=SPENT, max_retries=4)
started = time.monotonic()
try:
    ask(patient, "mock:claude-sonnet-4-5")
    check(False, "a spent budget is refused")
except anthropic.APIStatusError as e:
    took = time.monotonic() - started
    check(e.status_code == 402, f"a spent budget is 402 ({e.status_code})")
    check(e.body["error"]["type"] == "billing_error", "of type billing_error")
    check("budget" in e.message and "renews at" in e.message, f"the message says when it renews: {e.message}")
    check(took < 1.0, f"x-should-retry: false stops the SDK's retries at once ({took:.2f} s with max_retries=4)")
print("keys_sdk_check: all passed")
