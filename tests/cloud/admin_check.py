"""Bedrock and Vertex providers made, re-keyed and used at run time through the admin API (PUT /admin/providers/…):
the new AWS keys sign at once (the mock verifies), a wrong secret fails in the Anthropic envelope naming the
provider, secrets never come back in the admin answers, and a Vertex provider cannot be given a token command.

Usage: python3 admin_check.py '<json config>'
  gateway, api_key, admin_key
  bedrock_mock, aws ("AKID:SECRET" the mock knows), region
  vertex_mock, vertex_token (a static token the mock knows), project, vertex_region
"""

import anthropic

from checks import check, config, http, mock_get, mock_post

cfg = config()
GW = cfg["gateway"]
ADMIN = {"authorization": f"Bearer {cfg['admin_key']}"}
akid, secret = cfg["aws"].split(":", 1)
client = anthropic.Anthropic(base_url=GW, api_key=cfg["api_key"], max_retries=0, timeout=60)
HELLO = [{"role": "user", "content": "Hello"}]


def put(name, body):
    status, _, data = http("PUT", f"{GW}/admin/providers/{name}", body, ADMIN)
    assert secret not in data.decode() and cfg["vertex_token"] not in data.decode(), "a secret came back"
    return status, data


bedrock = {"api_format": "bedrock", "base_url": cfg["bedrock_mock"], "aws_region": cfg["region"],
           "aws_access_key_id": akid, "aws_secret_access_key": secret}
status, data = put("brn", bedrock)
check(status in (200, 201), f"PUT a bedrock provider ({status} {data[:200]!r})")
mock_post(cfg["bedrock_mock"], "reset", {})
message = client.messages.create(model="brn:anthropic.claude-x", max_tokens=16, messages=HELLO)
records = mock_get(cfg["bedrock_mock"], "requests")
check(message.content and records and all(r["verified"] and r["who"] == akid for r in records),
      f"the new provider signs with its AWS keys ({[(r['auth'], r.get('who'), r['error']) for r in records]})")
status, _, data = http("GET", f"{GW}/admin/providers", None, ADMIN)
check(status == 200 and "brn" in data.decode() and secret not in data.decode(),
      f"GET /admin/providers lists brn without its secret ({status})")

status, data = put("brn", {**bedrock, "aws_secret_access_key": "wrong-" + secret})
check(status == 200, f"PUT a wrong secret ({status})")
try:
    client.messages.create(model="brn:anthropic.claude-x", max_tokens=16, messages=HELLO)
    raise SystemExit("FAILED: a wrong AWS secret was accepted")
except anthropic.APIStatusError as e:
    body = e.body if isinstance(e.body, dict) else {}
    message = (body.get("error") or {}).get("message", "")
    check(e.status_code in (401, 403) and "brn" in message, f"a refused signature: {e.status_code} naming brn ({body})")
status, data = put("brn", bedrock)
message = client.messages.create(model="brn:anthropic.claude-x", max_tokens=16, messages=HELLO)
check(status == 200 and message.content, "the right secret back: served again")

vertex = {"api_format": "vertex", "base_url": f"{cfg['vertex_mock']}/v1", "vertex_project": cfg["project"],
          "vertex_region": cfg["vertex_region"], "api_keys": [cfg["vertex_token"]]}
status, data = put("vxn", vertex)
check(status in (200, 201), f"PUT a vertex provider ({status} {data[:200]!r})")
with client.messages.stream(model="vxn:claude-x@1", max_tokens=16, messages=HELLO) as s:
    check("".join(s.text_stream), "the new vertex provider streams")
status, data = put("vxc2", {**vertex, "token_command": "echo nope"})
check(status == 400, f"a token command through the admin API is refused ({status} {data[:200]!r})")
print("admin: all checks passed")
