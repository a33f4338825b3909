"""Proves mock_vertex.py checks what it claims: google-auth (an independent JWT signer) exchanges the service-account
key at the mock's token endpoint; AnthropicVertex with those credentials (and with a static token) passes every
check against the mock; bad JWTs, unknown or expired tokens, wrong projects and wrong bodies are refused.

Usage: python3 mock_vertex_selftest.py <mock url> <service account file>
  (the mock started with --static-token self-static --make-service-account <file> --expires-in 3)
"""

import json
import sys
import time
import urllib.parse

import anthropic
import jwt
from google.auth.transport.requests import Request
from google.oauth2 import service_account as google_sa

import service_account
from checks import check, http, mock_get, mock_post, run_all

MOCK, SA_FILE = sys.argv[1], sys.argv[2]
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
BASE = f"{MOCK}/v1"
mock_post(MOCK, "reset", {})

creds = google_sa.Credentials.from_service_account_file(SA_FILE, scopes=[SCOPE])
creds.refresh(Request())
check(creds.token.startswith("ya29.mock-1-"), "google-auth exchanged the service-account JWT at the mock")
check(mock_get(MOCK, "stats")["exchanges"] == 1, "one exchange counted")

client = anthropic.AnthropicVertex(base_url=BASE, region="us-east5", project_id="mock-project", credentials=creds,
                                   max_retries=0)
run_all(client, "AnthropicVertex direct", {"text": "claude-sonnet-4-5@20250929", "thinking": "m", "tools": "m",
                                            "script": "m", "stream_error": "overload-me"})
counted = client.messages.count_tokens(model="claude-sonnet-4-5@20250929",
                                       messages=[{"role": "user", "content": "x"}])
check(counted.input_tokens == 110, f"count-tokens:rawPredict answered ({counted.input_tokens})")
records = [r for r in mock_get(MOCK, "requests") if r["action"] in ("rawPredict", "streamRawPredict")]
check(all(r["auth"] == "issued" and not r["error"] for r in records), "every request carried an issued token")

time.sleep(3.5)  # the mock was started with --expires-in 3
body = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
path = f"{BASE}/projects/mock-project/locations/us-east5/publishers/anthropic/models/claude-x:rawPredict"
status, _, data = http("POST", path, body, {"authorization": f"Bearer {creds.token}"})
check(status == 401 and json.loads(data)["error"]["status"] == "UNAUTHENTICATED", f"an expired token: 401 ({status})")
before = mock_get(MOCK, "stats")["exchanges"]
creds.refresh(Request())
status, _, _ = http("POST", path, body, {"authorization": f"Bearer {creds.token}"})
check(status == 200 and mock_get(MOCK, "stats")["exchanges"] == before + 1, "a refreshed token works (one more exchange)")
mock_post(MOCK, "config", {"revoke_tokens": True})
status, _, _ = http("POST", path, body, {"authorization": f"Bearer {creds.token}"})
check(status == 401, f"revoke_tokens: the old token gets 401 ({status})")

status, _, _ = http("POST", path, body, {"authorization": "Bearer self-static"})
check(status == 200, f"a static token works ({status})")
status, _, _ = http("POST", path, body)
check(status == 401, f"no token: 401 ({status})")
wrong = path.replace("mock-project", "other-project")
status, _, _ = http("POST", wrong, body, {"authorization": "Bearer self-static"})
check(status == 403, f"another project: 403 ({status})")
for bad, what in [({**body, "model": "claude-x"}, "a body with model"),
                  ({k: v for k, v in body.items() if k != "anthropic_version"}, "no anthropic_version"),
                  ({**body, "stream": True}, "rawPredict with stream true")]:
    status, _, data = http("POST", path, bad, {"authorization": "Bearer self-static"})
    check(status == 400, f"{what}: 400 ({status} {data[:120]!r})")

# A JWT signed by another key, and one with the wrong audience, are refused.
info = json.load(open(SA_FILE))
other = service_account.make(SA_FILE + ".other", info["token_uri"])
now = int(time.time())
claims = {"iss": info["client_email"], "scope": SCOPE, "aud": info["token_uri"], "iat": now, "exp": now + 3600}
for key, claim_set, what in [(other["private_key"], claims, "a JWT signed by another key"),
                             (info["private_key"], {**claims, "aud": "http://elsewhere/token"}, "the wrong audience"),
                             (info["private_key"], {**claims, "scope": "email"}, "a scope without cloud-platform")]:
    assertion = jwt.encode(claim_set, key, algorithm="RS256")
    form = urllib.parse.urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion})
    status, _, data = http("POST", info["token_uri"], None, {"content-type": "application/x-www-form-urlencoded"},
                           raw=form.encode())
    check(status == 400 and json.loads(data)["error"] == "invalid_grant", f"{what}: refused ({status} {data[:100]!r})")
print("mock_vertex self-test passed")
