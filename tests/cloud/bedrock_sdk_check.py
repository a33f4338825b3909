"""The official `anthropic` SDK's AnthropicBedrock client (boto3/botocore signing) against a Bedrock endpoint:
gatehouse's /bedrock dialect route, or mock_bedrock.py directly (which proves the mock's SigV4 check and frames).

Usage: python3 bedrock_sdk_check.py '<json config>'
  base_url          the Bedrock base URL (e.g. http://gw/bedrock)
  region            AWS region the client signs for
  aws               "AKID:SECRET[:SESSION_TOKEN]": the client signs with these (gatehouse must ignore them), or
  api_key           a bearer key (AnthropicBedrock's api_key: gatehouse's key on the dialect route)
  gateway_key       optional, sent as x-gatehouse-key (the gateway key when the client signs with AWS keys)
  models            roles for checks.run_all (text, thinking, tools, script, stream_error)
  beta_model        optional: a create with an anthropic-beta header (AnthropicBedrock moves it into the body)
  bedrock_mock      optional: mock_bedrock.py's URL; its records are then checked (see below)
  expect_version    optional: the anthropic_version the mock must have received
  expect_model_id   optional: the model id the mock must have received (URL-decoded)
  expect_encoded    optional: the raw path the mock received must carry the id's colons as %3A
  expect_auth       optional: "sigv4" | "bearer": how the mock must have been called
  count_tokens      optional {"model": id, "expect": n, "bearer": key}: a raw POST …/count-tokens with that bearer
  profiles          optional {"bearer": key}: GET …/inference-profiles must answer {"inferenceProfileSummaries": []}
  raw_stream        optional {"model": id, "bearer": key}: a raw stream request; every frame decoded by
                    eventstream.py (CRCs checked), `chunk` events only, ending with message_stop
  byte_exact        optional {"model": gateway id, "upstream_id": id, "direct": mock url, "direct_bearer": key,
                    "bearer": gateway key}: the same stream request through gatehouse and straight to the mock must
                    give the same bytes
  raw_error_stream  optional {"model": id, "bearer": key, "exception_type": t}: a raw stream failing midway ends
                    with exactly one exception frame of type t
  keepalive         optional {"model": id, "bearer": key, "seconds": s}: a converted stream whose upstream stalls
                    (tests/common's `stall-stream`): within `s` seconds a `ping` chunk from gatehouse arrives after
                    at least 10 s of silence
  auth_error        optional: a wrong gateway key must get a Bedrock error (401/403, {"message"}, x-amzn-ErrorType)
"""

import base64
import json
import urllib.parse

import anthropic
import eventstream
from checks import check, config, http, mock_get, mock_post, run_all

BETA = "context-1m-2025-08-07"

cfg = config()
kwargs = {"base_url": cfg["base_url"], "aws_region": cfg.get("region", "us-east-1"), "max_retries": 0, "timeout": 60}
if "aws" in cfg:
    parts = cfg["aws"].split(":", 2)
    kwargs.update(aws_access_key=parts[0], aws_secret_key=parts[1], aws_session_token=parts[2] if len(parts) > 2 else None)
else:
    kwargs["api_key"] = cfg["api_key"]
if cfg.get("gateway_key"):
    kwargs["default_headers"] = {"x-gatehouse-key": cfg["gateway_key"]}
client = anthropic.AnthropicBedrock(**kwargs)
label = cfg.get("label", "AnthropicBedrock")
mock = cfg.get("bedrock_mock")
if mock:
    mock_post(mock, "reset", {})

run_all(client, label, cfg["models"])

if cfg.get("beta_model"):
    message = client.messages.create(model=cfg["beta_model"], max_tokens=64, extra_headers={"anthropic-beta": BETA},
                                     messages=[{"role": "user", "content": "Hello with a beta"}])
    check(message.content, f"{label}: create with an anthropic-beta header")

if cfg.get("count_tokens"):
    ct = cfg["count_tokens"]
    inner = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
             "messages": [{"role": "user", "content": "Count me"}]}
    body = {"input": {"invokeModel": {"body": base64.b64encode(json.dumps(inner).encode()).decode()}}}
    status, _, data = http("POST", f"{cfg['base_url']}/model/{ct['model']}/count-tokens", body,
                           {"authorization": f"Bearer {ct['bearer']}"})
    check(status == 200, f"{label}: count-tokens answers 200 ({status} {data[:300]!r})")
    check(json.loads(data).get("inputTokens") == ct["expect"], f"{label}: count-tokens {data!r} has inputTokens {ct['expect']}")

if cfg.get("profiles"):
    status, _, data = http("GET", f"{cfg['base_url']}/inference-profiles?type=SYSTEM_DEFINED", None,
                           {"authorization": f"Bearer {cfg['profiles']['bearer']}"})
    check(status == 200 and json.loads(data) == {"inferenceProfileSummaries": []},
          f"{label}: inference-profiles lists none ({status} {data[:200]!r})")

if mock:
    records = [r for r in mock_get(mock, "requests") if r["action"] in ("invoke", "invoke-with-response-stream")]
    check(records, f"{label}: the Bedrock mock received the model requests")
    bad = [r["error"] for r in records if r["error"] and "ThrottlingException" not in r["error"]]
    check(not bad, f"{label}: every request passed the mock's auth and body checks ({bad[:2]})")
    check(all(r["verified"] for r in records), f"{label}: every request authenticated")
    if cfg.get("expect_auth"):
        kinds = {r["auth"] for r in records}
        check(kinds == {cfg["expect_auth"]}, f"{label}: the mock was called with {cfg['expect_auth']} ({kinds})")
    for r in records:
        body = r["body"]
        if cfg.get("expect_version"):
            check(body.get("anthropic_version") == cfg["expect_version"],
                  f"{label}: anthropic_version {body.get('anthropic_version')!r} == {cfg['expect_version']!r}")
        if cfg.get("expect_model_id") and "throttle" not in r["model_id"]:
            check(r["model_id"] == cfg["expect_model_id"], f"{label}: model id {r['model_id']!r} == {cfg['expect_model_id']!r}")
        if cfg.get("expect_encoded") and ":" in r["model_id"]:
            check("%3A" in r["path"] and ":" not in r["path"], f"{label}: the id's colon sent as %3A ({r['path']})")
        leaked = [h for h, _ in r["headers"] if h.lower() in ("x-gatehouse-key", "x-api-key")]
        check(not leaked, f"{label}: no gateway key headers reached Bedrock ({leaked})")
    if cfg.get("beta_model"):
        betas = [r["body"].get("anthropic_beta") for r in records]
        check(any(isinstance(b, list) and BETA in b for b in betas), f"{label}: anthropic_beta carried {BETA} ({betas})")

STREAM_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
               "messages": [{"role": "user", "content": "Hello, raw stream"}]}


def raw_stream(base, model, bearer):
    quoted = urllib.parse.quote(model, safe="")
    return http("POST", f"{base}/model/{quoted}/invoke-with-response-stream", STREAM_BODY,
                {"authorization": f"Bearer {bearer}"})


if cfg.get("raw_stream"):
    rs = cfg["raw_stream"]
    status, headers, data = raw_stream(cfg["base_url"], rs["model"], rs["bearer"])
    check(status == 200, f"{label}: raw stream answers 200 ({status} {data[:200]!r})")
    check(headers.get("content-type") == "application/vnd.amazon.eventstream",
          f"{label}: raw stream content-type {headers.get('content-type')}")
    try:
        frames = eventstream.decode_all(data)
    except ValueError as e:
        raise SystemExit(f"FAILED: {label}: the frames do not decode ({e})")
    kinds = {(h.get(":message-type"), h.get(":event-type")) for h, _ in frames}
    check(kinds == {("event", "chunk")}, f"{label}: only chunk events, valid CRCs ({len(frames)} frames, {kinds})")
    events = eventstream.anthropic_events(data)
    check(events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop",
          f"{label}: chunks carry message_start … message_stop ({[e['type'] for e in events]})")

if cfg.get("byte_exact"):
    be = cfg["byte_exact"]
    s1, _, via = raw_stream(cfg["base_url"], be["model"], be["bearer"])
    s2, _, direct = raw_stream(be["direct"], be["upstream_id"], be["direct_bearer"])
    check(s1 == 200 and s2 == 200, f"{label}: byte-exact: both streams answered ({s1}, {s2})")
    check(via == direct, f"{label}: the stream through gatehouse is byte-for-byte Bedrock's ({len(via)} vs {len(direct)} bytes)")

if cfg.get("raw_error_stream"):
    rs = cfg["raw_error_stream"]
    status, headers, data = raw_stream(cfg["base_url"], rs["model"], rs["bearer"])
    events = eventstream.anthropic_events(data)
    kinds = [e["type"] for e in events]
    check(status == 200 and kinds.count("exception") == 1 and kinds[-1] == "exception",
          f"{label}: one exception frame ends the failed stream ({status} {kinds})")
    check(events[-1]["exception_type"] == rs["exception_type"],
          f"{label}: exception type {events[-1]['exception_type']} == {rs['exception_type']}")

if cfg.get("keepalive"):
    import http.client as http_client
    import threading
    import time
    ka = cfg["keepalive"]
    target = urllib.parse.urlsplit(cfg["base_url"])
    conn = http_client.HTTPConnection(target.hostname, target.port, timeout=ka["seconds"] + 5)
    path = f"{target.path}/model/{urllib.parse.quote(ka['model'], safe='')}/invoke-with-response-stream"
    conn.request("POST", path, json.dumps(STREAM_BODY), {"authorization": f"Bearer {ka['bearer']}",
                                                          "content-type": "application/json"})
    answer = conn.getresponse()
    check(answer.status == 200, f"{label}: keep-alive stream answers 200 ({answer.status})")
    started, arrivals = time.monotonic(), []

    def reader():
        buffered = b""
        try:
            while True:
                piece = answer.read1(65536)
                if not piece:
                    return
                buffered += piece
                while len(buffered) >= 4 and len(buffered) >= int.from_bytes(buffered[:4], "big"):
                    total = int.from_bytes(buffered[:4], "big")
                    for event in eventstream.anthropic_events(buffered[:total]):
                        arrivals.append((round(time.monotonic() - started, 1), event["type"]))
                    buffered = buffered[total:]
        except Exception:  # the connection is closed under it when the wait is over
            return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    while thread.is_alive() and time.monotonic() - started < ka["seconds"]:
        thread.join(0.5)
        if any(kind == "ping" and t >= 10 for t, kind in arrivals):
            break
    conn.close()
    late_pings = [t for t, kind in arrivals if kind == "ping" and t >= 10]
    check(late_pings, f"{label}: gatehouse's ping chunk during a long upstream silence ({arrivals})")

if cfg.get("auth_error"):
    quoted = urllib.parse.quote(cfg["models"]["text"], safe="")
    status, headers, data = http("POST", f"{cfg['base_url']}/model/{quoted}/invoke", STREAM_BODY,
                                 {"authorization": "Bearer not-the-gateway-key"})
    kind = headers.get("x-amzn-errortype", "")
    check(status in (401, 403) and kind.endswith("Exception"), f"{label}: a wrong key → {status} {kind}")
    body = json.loads(data)
    check(isinstance(body.get("message"), str) and body["message"], f"{label}: a Bedrock error body ({body})")

print(f"{label}: all checks passed")
