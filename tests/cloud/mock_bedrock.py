"""A mock Amazon Bedrock runtime that checks what a real one checks, with implementations independent of gatehouse.

Usage: python3 mock_bedrock.py [--credentials AKID:SECRET[:SESSION_TOKEN]]... [--api-key KEY]... [--region R]
Prints its base URL (http://127.0.0.1:<port>) on the first stdout line, then serves until killed.

Auth: `Authorization: AWS4-HMAC-SHA256 …` is verified with botocore's SigV4 implementation against the known
credentials (service `bedrock`, the configured region; the canonical request is rebuilt from the headers the
signature names, so a signed `Host` without the port is fine; `x-amz-content-sha256` must be the body's hash;
temporary credentials need their `x-amz-security-token`); `Authorization: Bearer <key>` must be a known API key.
Anything else → 403 with a Bedrock error (`{"message": …}` + `x-amzn-ErrorType`).

Routes (model id URL-decoded from the path; raw `:` and `%3A` both accepted):
- `POST /model/{id}/invoke` → the scripted Messages JSON (scripted.py);
- `POST /model/{id}/invoke-with-response-stream` → the scripted events as real event-stream `chunk` frames, each
  frame written in two pieces;
- `POST /model/{id}/count-tokens` with `{"input":{"invokeModel":{"body":"<base64>"}}}` → `{"inputTokens": n}`;
- `GET /inference-profiles` → `{"inferenceProfileSummaries": []}`.
The body must be a Bedrock body: `anthropic_version` present, no `model`, no `stream` (else 400 ValidationException).

Modes (`POST /_mock/config`): `{"expired": true}` → every authenticated request gets 403 ExpiredTokenException;
`{"stream_exception": "throttlingException"}` → streams send part of the answer then that exception frame. A model
id containing `throttle` does the same for one request (a non-streaming one gets 429 ThrottlingException). A model
id containing `slow` streams without pings and stays silent `slow_seconds` (default 2.5) after message_start.
Every API request is recorded (`GET /_mock/requests`): method, path, model_id, action, headers, body, auth, verified,
error.
"""

import argparse
import base64
import hashlib
import json
import re
import time
from datetime import datetime, timezone
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

import eventstream
import mockhttp
import scripted

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)
ROUTE_RE = re.compile(r"^/model/(?P<id>[^/]+)/(?P<action>invoke|invoke-with-response-stream|count-tokens)$")


class BedrockError(Exception):
    """A Bedrock error answer: status, `x-amzn-ErrorType`, message."""

    def __init__(self, status, kind, message):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class _Verifier(SigV4Auth):
    """botocore's SigV4 with the header set fixed to the one the request's signature names."""

    def __init__(self, credentials, service, region, signed_names):
        super().__init__(credentials, service, region)
        self._signed_names = signed_names

    def headers_to_sign(self, request):
        headers = HTTPHeaders()
        for name in self._signed_names:
            headers[name] = request.headers[name]
        return headers


def verify_sigv4(handler, credentials, region):
    """Checks the request's SigV4 signature with botocore; returns the access key id or raises BedrockError."""
    auth = handler.headers.get("authorization", "")
    m = AUTH_RE.match(auth)
    if not m:
        raise BedrockError(403, "IncompleteSignatureException", "Authorization header is not a valid SigV4 header")
    akid = m["akid"]
    if akid not in credentials:
        raise BedrockError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    secret, token = credentials[akid]
    if m["service"] != "bedrock":
        raise BedrockError(403, "InvalidSignatureException", f"Credential should be scoped to correct service: 'bedrock' (got {m['service']})")
    if m["region"] != region:
        raise BedrockError(403, "InvalidSignatureException", f"Credential should be scoped to a valid region (got {m['region']}, want {region})")
    amz_date = handler.headers.get("x-amz-date", "")
    if not amz_date.startswith(m["date"]):
        raise BedrockError(403, "InvalidSignatureException", "x-amz-date missing or not the credential scope's date")
    when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    if abs((datetime.now(timezone.utc) - when).total_seconds()) > 900:
        raise BedrockError(403, "InvalidSignatureException", "Signature expired (x-amz-date more than 15 minutes off)")
    sent_token = handler.headers.get("x-amz-security-token")
    if token is not None and sent_token != token:
        raise BedrockError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    if token is None and sent_token is not None:
        raise BedrockError(403, "UnrecognizedClientException", "A security token was sent with permanent credentials.")
    content_sha = handler.headers.get("x-amz-content-sha256")
    if content_sha is not None and content_sha != hashlib.sha256(handler.body).hexdigest():
        raise BedrockError(400, "XAmzContentSHA256Mismatch", "x-amz-content-sha256 is not the SHA-256 of the body")
    signed = m["signed"].split(";")
    if "host" not in signed:
        raise BedrockError(403, "InvalidSignatureException", "host must be a signed header")
    if "x-amz-security-token" in handler.headers and "x-amz-security-token" not in signed:
        raise BedrockError(403, "InvalidSignatureException", "x-amz-security-token must be signed")
    for name in signed:
        if handler.headers.get(name) is None:
            raise BedrockError(403, "InvalidSignatureException", f"signed header {name} was not sent")
    headers = {name: handler.headers.get(name) for name in signed}
    request = AWSRequest(method=handler.command, url=f"http://{headers['host']}{handler.path}", data=handler.body,
                         headers=headers)
    request.context["timestamp"] = amz_date
    verifier = _Verifier(Credentials(akid, secret, token), "bedrock", region, signed)
    canonical = verifier.canonical_request(request)
    expected = verifier.signature(verifier.string_to_sign(request, canonical), request)
    if expected != m["sig"]:
        raise BedrockError(403, "InvalidSignatureException",
                           "The request signature we calculated does not match the signature you provided. "
                           f"Canonical request was:\n{canonical}")
    return akid


def authenticate(handler, config):
    """('sigv4', akid) | ('bearer', key-hash) for a valid request, else raises BedrockError."""
    auth = handler.headers.get("authorization")
    if auth is None:
        raise BedrockError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    if auth.startswith("Bearer "):
        key = auth[len("Bearer "):]
        if key not in config["api_keys"]:
            raise BedrockError(403, "UnrecognizedClientException", "Invalid API key")
        return "bearer", hashlib.sha256(key.encode()).hexdigest()[:8]
    return "sigv4", verify_sigv4(handler, config["credentials"], config["region"])


def check_body(body):
    """A Bedrock InvokeModel body: raises BedrockError like Bedrock's own validation."""
    if not isinstance(body, dict):
        raise BedrockError(400, "ValidationException", "Malformed input request: body is not a JSON object")
    for key in ("model", "stream"):
        if key in body:
            raise BedrockError(400, "ValidationException",
                               f"Malformed input request: #: extraneous key [{key}] is not permitted, please reformat your input and try again.")
    for key in ("anthropic_version", "max_tokens", "messages"):
        if key not in body:
            raise BedrockError(400, "ValidationException", f"Malformed input request: #: required key [{key}] not found")


def api(handler):
    state = handler.server.state
    record = {"method": handler.command, "path": handler.path, "headers": handler.header_list(),
              "body_text": handler.body.decode("utf-8", "replace"), "body": None, "model_id": None, "action": None,
              "auth": None, "verified": False, "error": None}
    try:
        record["body"] = json.loads(handler.body) if handler.body else None
    except ValueError:
        pass
    try:
        kind, who = authenticate(handler, state.config)
        record["auth"], record["verified"] = kind, True
        record["who"] = who
        if state.setting("expired"):
            raise BedrockError(403, "ExpiredTokenException", "The security token included in the request is expired")
        path = handler.path.split("?")[0]
        if handler.command == "GET" and path == "/inference-profiles":
            state.record(record)
            return handler.send_json(200, {"inferenceProfileSummaries": []})
        m = ROUTE_RE.match(path)
        if handler.command != "POST" or not m:
            raise BedrockError(404, "UnknownOperationException", f"no such operation: {handler.command} {path}")
        model_id, action = unquote(m["id"]), m["action"]
        record["model_id"], record["action"] = model_id, action
        body = record["body"]
        if action == "count-tokens":
            try:
                inner = json.loads(base64.b64decode(body["input"]["invokeModel"]["body"]))
            except (KeyError, TypeError, ValueError):
                raise BedrockError(400, "ValidationException", "count-tokens body must be {\"input\":{\"invokeModel\":{\"body\":<base64>}}}")
            record["inner_body"] = inner
            state.record(record)
            return handler.send_json(200, {"inputTokens": scripted.count_tokens(inner)})
        check_body(body)
        state.record(record)
        exception = state.setting("stream_exception") or ("throttlingException" if "throttle" in model_id else None)
        headers = [("x-amzn-requestid", f"req-{state.bump('requests')}")]
        if action == "invoke":
            if exception:
                raise BedrockError(429, "ThrottlingException", "Too many requests, please wait before trying again.")
            answer = scripted.message(body, "bedrock", model_id)
            headers += [("x-amzn-bedrock-input-token-count", str(answer["usage"]["input_tokens"])),
                        ("x-amzn-bedrock-output-token-count", str(answer["usage"]["output_tokens"]))]
            return handler.send_json(200, answer, headers)
        stream(handler, body, model_id, exception, headers)
    except BedrockError as e:
        record["error"] = f"{e.kind}: {e.message}"
        if not any(r is record for r in state.records):
            state.record(record)
        handler.send_json(e.status, {"message": e.message}, [("x-amzn-ErrorType", e.kind)])


def stream(handler, body, model_id, exception, headers):
    handler.start_chunked("application/vnd.amazon.eventstream",
                          headers + [("x-amzn-bedrock-content-type", "application/json")])
    if exception:
        events = scripted.text_prefix_events(body, "bedrock", model_id)
        frames = [eventstream.chunk(e) for e in events]
        frames.append(eventstream.exception(exception, "Too many requests, please wait before trying again."))
    else:
        events = scripted.events(body, "bedrock", model_id)
        if "slow" in model_id:  # Bedrock sends no pings: a silence after message_start, as a slow model makes
            events = [e for e in events if e["type"] != "ping"]
        events[-1]["amazon-bedrock-invocationMetrics"] = {
            "inputTokenCount": scripted.USAGE["input_tokens"], "outputTokenCount": scripted.USAGE["output_tokens"],
            "invocationLatency": 321, "firstByteLatency": 123}
        frames = [eventstream.chunk(e) for e in events]
    for n, data in enumerate(frames):
        if n == 1 and "slow" in model_id:
            time.sleep(float(handler.server.state.setting("slow_seconds")))
        cut = len(data) // 2
        handler.write_chunk(data[:cut])
        time.sleep(0.003)
        handler.write_chunk(data[cut:])
    handler.end_chunked()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--credentials", action="append", default=[], help="AKID:SECRET[:SESSION_TOKEN]")
    parser.add_argument("--api-key", action="append", default=[])
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    credentials = {}
    for entry in args.credentials:
        parts = entry.split(":", 2)
        credentials[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else None)
    state = mockhttp.MockState({"credentials": credentials, "api_keys": list(args.api_key), "region": args.region,
                                "expired": False, "stream_exception": None,
                                "slow_seconds": 2.5})
    mockhttp.serve(api, state, args.verbose)


if __name__ == "__main__":
    main()
