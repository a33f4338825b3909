"""The plain `anthropic` SDK (Messages API, /v1/messages) through gatehouse to a bedrock-format or vertex-format
provider backed by mock_bedrock.py / mock_vertex.py; the mock's records show what gatehouse sent upstream.

Usage: python3 upstream_sdk_check.py '<json config>'
  gateway, api_key   gatehouse's URL and the gateway key (x-api-key)
  upstream           "bedrock" | "vertex"
  mock               the mock's URL
  models             roles for checks.run_all (text, thinking, tools, script, stream_error)
  expect_model       the model id the mock must receive (Bedrock: URL-decoded from the path; Vertex: in the path)
  expect_auth        bedrock: "sigv4" | "bearer"; vertex: "issued" | "static"
  beta_model         optional: a create with an anthropic-beta header, which must reach the upstream
  count_tokens       optional {"model": m, "expect": n}: client.messages.count_tokens
  refresh            optional {"model": m, "expires_in": s} (vertex, service account; run first, on a gateway that
                     has no token yet, the mock issuing tokens that live `expires_in` s): a token is exchanged once,
                     reused while more than 60 s of it remain, exchanged again after, and after a 401
  token_command      optional {"model": m} (vertex, a provider whose token command fetches /_mock/issue): the
                     command runs once, its token is reused, and after a 401 it runs again and the request is retried
  raw_error_stream   optional {"model": m, "error_type": t}: a raw stream failing midway carries exactly one
                     `error` event, of type t, as its last event
  keepalive          optional {"model": m}: a raw stream from an upstream that stays silent longer than the
                     provider's ping interval carries gatehouse's `ping` events in the silence, the rest intact
  retried            optional {"model": m}: Bedrock answers 503 twice, gatehouse retries, each attempt signed
                     afresh (the mock verifies every one), the third succeeds
  throttled          optional {"model": m, "provider": name} (bedrock): Bedrock's 429 ThrottlingException (after
                     gatehouse's retries) → a 429 rate_limit_error naming the provider
  expired            optional {"model": m, "provider": name} (bedrock): the mock's expired mode → a 401/403
                     Anthropic error naming the provider
"""

import time

import anthropic

from checks import check, config, http, mock_get, mock_post, run_all

BETA = "context-1m-2025-08-07"
cfg = config()
client = anthropic.Anthropic(base_url=cfg["gateway"], api_key=cfg["api_key"], max_retries=0, timeout=60)
mock = cfg["mock"]
label = cfg.get("label", f"Anthropic SDK → {cfg['upstream']}")
HELLO = [{"role": "user", "content": "Hello"}]

if cfg.get("refresh"):
    model = cfg["refresh"]["model"]
    mock_post(mock, "reset", {})

    def exchanges():
        return mock_get(mock, "stats").get("exchanges", 0)

    client.messages.create(model=model, max_tokens=16, messages=HELLO)
    check(exchanges() == 1, f"{label}: the first request exchanged the service-account JWT once ({exchanges()})")
    client.messages.create(model=model, max_tokens=16, messages=HELLO)
    check(exchanges() == 1, f"{label}: a second request reuses the cached token ({exchanges()})")
    time.sleep(cfg["refresh"]["expires_in"] - 60 + 1.5)
    client.messages.create(model=model, max_tokens=16, messages=HELLO)
    check(exchanges() == 2, f"{label}: with under 60 s of life left the token was refreshed ({exchanges()})")
    mock_post(mock, "config", {"revoke_tokens": True})
    message = client.messages.create(model=model, max_tokens=16, messages=HELLO)
    check(message.content and exchanges() == 3, f"{label}: a 401 from Vertex → new token, request retried ({exchanges()})")
    serials = [r.get("token_serial") for r in mock_get(mock, "requests") if r["action"] == "rawPredict"]
    check(serials[-1] == 3, f"{label}: the retried request carried the new token (serials {serials})")
    mock_post(mock, "config", {"revoke_tokens": True})
    with client.messages.stream(model=model, max_tokens=16, messages=HELLO) as s:
        streamed = "".join(s.text_stream)
    check(streamed and exchanges() == 4, f"{label}: a 401 on a stream → new token, stream retried ({exchanges()})")

if cfg.get("token_command"):
    model = cfg["token_command"]["model"]
    mock_post(mock, "reset", {})

    def commands():
        return mock_get(mock, "stats").get("commands", 0)

    client.messages.create(model=model, max_tokens=16, messages=HELLO)
    check(commands() == 1, f"{label}: the token command ran once ({commands()})")
    client.messages.create(model=model, max_tokens=16, messages=HELLO)
    check(commands() == 1, f"{label}: its token is reused ({commands()})")
    mock_post(mock, "config", {"revoke_tokens": True})
    message = client.messages.create(model=model, max_tokens=16, messages=HELLO)
    check(message.content and commands() == 2, f"{label}: a 401 → the command ran again, request retried ({commands()})")
    auths = {r["auth"] for r in mock_get(mock, "requests") if r["action"] == "rawPredict" and not r["error"]}
    check(auths == {"command"}, f"{label}: the requests carried the command's tokens ({auths})")

mock_post(mock, "reset", {})
run_all(client, label, cfg["models"])

if cfg.get("raw_error_stream"):
    re_cfg = cfg["raw_error_stream"]
    status, _, data = http("POST", f"{cfg['gateway']}/v1/messages", {
        "model": re_cfg["model"], "max_tokens": 64, "stream": True, "messages": HELLO},
        {"x-api-key": cfg["api_key"], "anthropic-version": "2023-06-01"})
    text = data.decode()
    names = [line[len("event: "):].strip() for line in text.splitlines() if line.startswith("event: ")]
    check(status == 200 and names.count("error") == 1 and names[-1] == "error",
          f"{label}: one error event ends the failed stream ({status} {names})")
    check(re_cfg["error_type"] in text.split("event: error", 1)[1], f"{label}: the error is a {re_cfg['error_type']}")

if cfg.get("beta_model"):
    message = client.messages.create(model=cfg["beta_model"], max_tokens=64, extra_headers={"anthropic-beta": BETA},
                                     messages=HELLO)
    check(message.content, f"{label}: create with an anthropic-beta header")

if cfg.get("count_tokens"):
    ct = cfg["count_tokens"]
    counted = client.messages.count_tokens(model=ct["model"], messages=[{"role": "user", "content": "Count me"}])
    check(counted.input_tokens == ct["expect"], f"{label}: count_tokens {counted.input_tokens} == {ct['expect']}")

records = mock_get(mock, "requests")
model_calls = [r for r in records if r["action"] in ("invoke", "invoke-with-response-stream", "rawPredict",
                                                     "streamRawPredict")]
check(model_calls, f"{label}: the mock received the model requests")
bad = [r["error"] for r in model_calls if r["error"]]
check(not bad, f"{label}: every upstream request passed the mock's auth and body checks ({bad[:2]})")
want_version = "bedrock-2023-05-31" if cfg["upstream"] == "bedrock" else "vertex-2023-10-16"
for r in model_calls:
    if cfg["upstream"] == "bedrock":
        check(r["verified"] and r["auth"] == cfg["expect_auth"], f"{label}: {r['auth']} auth verified by the mock")
        check(r["model_id"] == cfg["expect_model"] or "throttle" in r["model_id"],
              f"{label}: model id {r['model_id']!r} == {cfg['expect_model']!r}")
        if ":" in r["model_id"]:
            check("%3A" in r["path"] and ":" not in r["path"], f"{label}: the id's colon sent as %3A ({r['path']})")
    else:
        check(r["auth"] == cfg["expect_auth"], f"{label}: {r['auth']} token accepted by the mock")
        if r["model"] != "count-tokens":
            check(r["model"] == cfg["expect_model"] or "overload" in r["model"],
                  f"{label}: model {r['model']!r} == {cfg['expect_model']!r}")
            streamed = r["action"] == "streamRawPredict"
            check(bool(r["body"].get("stream")) == streamed, f"{label}: body stream matches {r['action']}")
    if r.get("model") == "count-tokens":
        continue
    check(r["body"].get("anthropic_version") == want_version,
          f"{label}: anthropic_version {r['body'].get('anthropic_version')!r} == {want_version!r}")
    leaked = [h for h, v in r["headers"] if h.lower() in ("x-api-key", "x-gatehouse-key") or cfg["api_key"] in v]
    check(not leaked, f"{label}: the gateway key did not reach the upstream ({leaked})")
if cfg.get("beta_model"):
    if cfg["upstream"] == "bedrock":
        betas = [r["body"].get("anthropic_beta") for r in model_calls]
        check(any(isinstance(b, list) and BETA in b for b in betas), f"{label}: anthropic_beta in the body ({betas})")
    else:
        betas = [v for r in model_calls for h, v in r["headers"] if h.lower() == "anthropic-beta"]
        check(any(BETA in b for b in betas), f"{label}: anthropic-beta header reached Vertex ({betas})")

if cfg.get("keepalive"):
    status, _, data = http("POST", f"{cfg['gateway']}/v1/messages", {
        "model": cfg["keepalive"]["model"], "max_tokens": 64, "stream": True, "messages": HELLO},
        {"x-api-key": cfg["api_key"], "anthropic-version": "2023-06-01"})
    names = [line[len("event: "):].strip() for line in data.decode().splitlines() if line.startswith("event: ")]
    check(status == 200 and names[0] == "message_start" and names[-1] == "message_stop",
          f"{label}: the slow stream arrived whole ({status} {names})")
    check(names[1] == "ping", f"{label}: gatehouse sent a ping during the upstream's silence ({names})")
    check(names.count("content_block_delta") == 2, f"{label}: every delta relayed ({names})")

if cfg.get("retried"):
    mock_post(mock, "reset", {})
    mock_post(mock, "config", {"fail_next": 2})
    message = client.messages.create(model=cfg["retried"]["model"], max_tokens=16, messages=HELLO)
    attempts = [r for r in mock_get(mock, "requests") if r["action"] == "invoke"]
    check(message.content and len(attempts) == 3, f"{label}: two 503s retried, the third attempt answered ({len(attempts)})")
    check(all(r["verified"] for r in attempts), f"{label}: every attempt carried a valid signature")

if cfg.get("throttled"):
    try:
        client.messages.create(model=cfg["throttled"]["model"], max_tokens=16, messages=HELLO)
        raise SystemExit(f"FAILED: {label}: a throttled request succeeded")
    except anthropic.RateLimitError as e:
        body = e.body if isinstance(e.body, dict) else {}
        error = body.get("error") or {}
        check(error.get("type") == "rate_limit_error" and cfg["throttled"]["provider"] in error.get("message", ""),
              f"{label}: Bedrock's ThrottlingException → 429 rate_limit_error naming the provider ({body})")

if cfg.get("expired"):
    mock_post(mock, "config", {"expired": True})
    try:
        client.messages.create(model=cfg["expired"]["model"], max_tokens=16, messages=HELLO)
        raise SystemExit(f"FAILED: {label}: expired credentials did not fail the request")
    except anthropic.APIStatusError as e:
        body = e.body if isinstance(e.body, dict) else {}
        message = str((body.get("error") or {}).get("message", ""))
        check(e.status_code in (401, 403), f"{label}: expired credentials → {e.status_code}")
        check(body.get("type") == "error" and (body.get("error") or {}).get("type") in (
            "authentication_error", "permission_error"), f"{label}: an Anthropic error envelope ({body})")
        check(cfg["expired"]["provider"] in message, f"{label}: the message names the provider ({message!r})")
    finally:
        mock_post(mock, "config", {"expired": False})
print(f"{label}: all checks passed")
