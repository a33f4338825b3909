"""boto3's bedrock-runtime client (botocore: %3A/%2F-encoded ids, its own SigV4, its strict event-stream parser and
Bedrock's CountTokens shape) against gatehouse's /bedrock dialect route. The gateway key rides in x-gatehouse-key,
added before signing; the client's signature uses keys the upstream never sees.

Usage: python3 boto3_check.py '<json config>'
  base_url      e.g. http://gw/bedrock
  region        the region boto3 signs for
  gateway_key   sent as x-gatehouse-key
  models        list of model ids (each gets invoke_model, a stream and, if count_tokens, count_tokens)
  count_tokens  optional n: the inputTokens count_tokens must answer ("positive": any count above 0)
  bedrock_mock  optional: mock_bedrock.py's URL; the ids it received must be the models without their provider
                prefix (`strip` maps a gateway id to the id the mock must see)
  strip         optional {gateway id: upstream id}
  errors        optional {id: [status, code]}: invoke_model must raise ClientError with that HTTP status and
                Bedrock error code (x-amzn-ErrorType), e.g. an Anthropic-format provider's 400 → ValidationException
  no_content_type  optional: both operations without contentType (botocore then sends no Content-Type) must work
  throttle      optional id: a stream that ends in an exception frame → botocore raises EventStreamError
"""

import json

import boto3
import botocore.config
import botocore.exceptions

from checks import check, config, mock_get, mock_post

cfg = config()
client = boto3.client("bedrock-runtime", endpoint_url=cfg["base_url"], region_name=cfg["region"],
                      aws_access_key_id="AKIDBOTOCLIENT", aws_secret_access_key="boto-client-secret",
                      config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=60))


def add_gateway_key(request, **_):
    request.headers["x-gatehouse-key"] = cfg["gateway_key"]


client.meta.events.register("before-sign.bedrock-runtime.*", add_gateway_key)
label = cfg.get("label", "boto3 bedrock-runtime")
BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello from boto3"}]}
mock = cfg.get("bedrock_mock")
if mock:
    mock_post(mock, "reset", {})

for model in cfg["models"]:
    answer = client.invoke_model(modelId=model, body=json.dumps(BODY), contentType="application/json",
                                 accept="application/json")
    message = json.loads(answer["body"].read())
    check(message.get("type") == "message" and message["content"], f"{label} {model}: invoke_model answered")
    stream = client.invoke_model_with_response_stream(modelId=model, body=json.dumps(BODY),
                                                      contentType="application/json")
    events = [json.loads(e["chunk"]["bytes"]) for e in stream["body"] if "chunk" in e]
    kinds = [e["type"] for e in events]
    check(kinds and kinds[0] == "message_start" and kinds[-1] == "message_stop",
          f"{label} {model}: botocore parsed the stream ({kinds})")
    streamed = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    plain = "".join(b.get("text", "") for b in message["content"] if b["type"] == "text")
    check(streamed == plain and streamed, f"{label} {model}: streamed text {streamed!r} == invoke's {plain!r}")
    if cfg.get("count_tokens") is not None:
        counted = client.count_tokens(modelId=model, input={"invokeModel": {"body": json.dumps(BODY).encode()}})
        check(counted["inputTokens"] > 0 if cfg["count_tokens"] == "positive" else counted["inputTokens"] == cfg["count_tokens"],
              f"{label} {model}: count_tokens {counted['inputTokens']} == {cfg['count_tokens']}")

for model, (status, code) in (cfg.get("errors") or {}).items():
    try:
        client.invoke_model(modelId=model, body=json.dumps(BODY), contentType="application/json")
        raise SystemExit(f"FAILED: {label}: {model} did not fail")
    except botocore.exceptions.ClientError as e:
        got = (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
        check(got == (status, code), f"{label}: {model} → {got} == {(status, code)} ({e.response['Error']['Message']!r})")

if cfg.get("throttle"):
    stream = client.invoke_model_with_response_stream(modelId=cfg["throttle"], body=json.dumps(BODY),
                                                      contentType="application/json")
    try:
        for _ in stream["body"]:
            pass
        raise SystemExit(f"FAILED: {label}: the throttled stream ended without an error")
    except botocore.exceptions.EventStreamError as e:
        code = e.response["Error"]["Code"]
        check(code == "throttlingException", f"{label}: the exception frame surfaced as {code}")

# AWS's own examples call both operations without contentType: botocore then sends no Content-Type at all, and
# Bedrock takes the body as JSON.
for call in (client.invoke_model, client.invoke_model_with_response_stream) if cfg.get("no_content_type") else ():
    try:
        answer = call(modelId=cfg["models"][0], body=json.dumps(BODY))
        check(answer["ResponseMetadata"]["HTTPStatusCode"] == 200, f"{label}: {call.__name__} without contentType")
    except botocore.exceptions.ClientError as e:
        raise SystemExit(f"FAILED: {label}: {call.__name__} without contentType (no Content-Type header) refused: "
                         f"{e.response['ResponseMetadata']['HTTPStatusCode']} {e}")

if mock:
    strip = cfg.get("strip", {})
    seen = {r["model_id"] for r in mock_get(mock, "requests") if r["action"]}
    want = {strip.get(m, m) for m in cfg["models"]} | ({strip.get(cfg["throttle"], cfg["throttle"])} if cfg.get("throttle") else set())
    check(seen == want, f"{label}: the mock received the ids {sorted(seen)} == {sorted(want)}")
    bad = [r["error"] for r in mock_get(mock, "requests") if r["error"] and "Throttling" not in r["error"]]
    check(not bad, f"{label}: every upstream request passed the mock ({bad[:2]})")
print(f"{label}: all checks passed")
