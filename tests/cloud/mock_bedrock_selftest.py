"""Proves mock_bedrock.py checks what it claims, with boto3 (botocore signing and event-stream parsing) and
AnthropicBedrock pointed straight at it: good signatures pass (permanent and temporary credentials, `:` raw or
encoded), bad ones fail, frames parse with botocore and with eventstream.py, and the modes answer as Bedrock does.

Usage: python3 mock_bedrock_selftest.py <mock url>   (the mock started with the credentials below)
  --credentials AKIDSELF:selfsecret --credentials ASIASELF:tempsecret:selftoken --api-key self-bearer
"""

import json
import sys

import anthropic
import boto3
import botocore.config
import botocore.exceptions

import eventstream
from checks import check, http, mock_get, mock_post

MOCK = sys.argv[1]
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}]}


def runtime(akid, secret, token=None):
    return boto3.client("bedrock-runtime", endpoint_url=MOCK, region_name="us-east-1", aws_access_key_id=akid,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=botocore.config.Config(retries={"max_attempts": 1}))


mock_post(MOCK, "reset", {})
good = runtime("AKIDSELF", "selfsecret")
answer = json.loads(good.invoke_model(modelId=MODEL, body=json.dumps(BODY))["body"].read())
check(answer["content"][0]["text"] == "Hello from the bedrock mock", "boto3 invoke_model (permanent keys) verified")
last = mock_get(MOCK, "requests")[-1]
check("%3A" in last["path"] and last["model_id"] == MODEL, f"boto3's %3A-encoded id decoded ({last['path']})")

temp = runtime("ASIASELF", "tempsecret", "selftoken")
events = [e for e in temp.invoke_model_with_response_stream(modelId=MODEL, body=json.dumps(BODY))["body"]]
decoded = [json.loads(e["chunk"]["bytes"]) for e in events]
check(decoded[0]["type"] == "message_start" and decoded[-1]["type"] == "message_stop",
      f"boto3 stream (temporary keys) parsed by botocore ({len(decoded)} events)")
check("amazon-bedrock-invocationMetrics" in decoded[-1], "the last chunk carries invocation metrics")

counted = good.count_tokens(modelId=MODEL, input={"invokeModel": {"body": json.dumps(BODY).encode()}})
check(counted["inputTokens"] == 110, f"boto3 count_tokens answered ({counted['inputTokens']})")


def refused(client, expect_code, what, **kwargs):
    try:
        client.invoke_model(modelId=MODEL, body=json.dumps(kwargs.get("body", BODY)))
    except botocore.exceptions.ClientError as e:
        code = e.response["Error"]["Code"]
        check(code == expect_code, f"{what}: refused with {code}")
        return
    raise SystemExit(f"FAILED: {what}: accepted")


refused(runtime("AKIDSELF", "wrong-secret"), "InvalidSignatureException", "wrong secret")
refused(runtime("AKIDOTHER", "selfsecret"), "UnrecognizedClientException", "unknown access key")
refused(runtime("ASIASELF", "tempsecret"), "UnrecognizedClientException", "temporary keys without their token")
refused(runtime("ASIASELF", "tempsecret", "other-token"), "UnrecognizedClientException", "wrong session token")
refused(good, "ValidationException", "a body with model", body={**BODY, "model": MODEL})
refused(good, "ValidationException", "a body with stream", body={**BODY, "stream": True})
refused(good, "ValidationException", "a body without anthropic_version",
        body={k: v for k, v in BODY.items() if k != "anthropic_version"})


def tamper(request, **_):
    request.body = request.body.replace(b"Hello", b"Hallo") if isinstance(request.body, bytes) else request.body


tampered = runtime("AKIDSELF", "selfsecret")
tampered.meta.events.register_last("before-send.bedrock-runtime.InvokeModel", tamper)
try:
    tampered.invoke_model(modelId=MODEL, body=json.dumps(BODY))
    raise SystemExit("FAILED: a body changed after signing was accepted")
except botocore.exceptions.ClientError as e:
    check(e.response["Error"]["Code"] in ("XAmzContentSHA256Mismatch", "InvalidSignatureException"),
          f"a body changed after signing: refused ({e.response['Error']['Code']})")

status, headers, data = http("POST", f"{MOCK}/model/{MODEL}/invoke", BODY)
check(status == 403 and headers.get("x-amzn-errortype") == "MissingAuthenticationTokenException",
      f"no auth: 403 MissingAuthenticationTokenException ({status} {headers.get('x-amzn-errortype')})")
status, headers, data = http("POST", f"{MOCK}/model/{MODEL}/invoke", BODY, {"authorization": "Bearer nope"})
check(status == 403, f"unknown bearer key: 403 ({status})")
status, headers, data = http("POST", f"{MOCK}/model/{MODEL}/invoke-with-response-stream", BODY,
                             {"authorization": "Bearer self-bearer"})
check(status == 200 and headers.get("content-type") == "application/vnd.amazon.eventstream", "bearer key: a stream")
ours = eventstream.anthropic_events(data)
check(ours == decoded,
      "eventstream.py decodes the same events botocore did")

mock_post(MOCK, "config", {"stream_exception": "throttlingException"})
status, headers, data = http("POST", f"{MOCK}/model/{MODEL}/invoke-with-response-stream", BODY,
                             {"authorization": "Bearer self-bearer"})
mock_post(MOCK, "config", {"stream_exception": None})
frames = eventstream.anthropic_events(data)
check(frames[-1] == {"type": "exception", "exception_type": "throttlingException",
                     "message": "Too many requests, please wait before trying again."},
      "stream_exception mode: an exception frame ends the stream")
client = anthropic.AnthropicBedrock(base_url=MOCK, aws_region="us-east-1", aws_access_key="AKIDSELF",
                                    aws_secret_key="selfsecret", max_retries=0)
mock_post(MOCK, "config", {"expired": True})
try:
    client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    raise SystemExit("FAILED: expired mode accepted a request")
except anthropic.PermissionDeniedError as e:
    check(e.response.headers.get("x-amzn-errortype") == "ExpiredTokenException"
          and "expired" in e.response.json()["message"], "expired mode: 403 ExpiredTokenException")
finally:
    mock_post(MOCK, "config", {"expired": False})
print("mock_bedrock self-test passed")
