"""A virtual key (gh_…) on the cloud dialects: made with the admin API, used as AnthropicBedrock's bearer API key
and AnthropicVertex's access token; its model patterns hold there, and its usage counts the tokens the Bedrock and
Vertex streams reported.

Usage: python3 keys_check.py '<json config>'
  gateway, admin_key, region, project, vertex_region
  bedrock_model, vertex_model     allowed by the key (br:*, vx:*)
  refused_model                   not allowed by the key
  tokens_per_request              input + output tokens the mocks report per answer
"""

import json
import urllib.parse

import anthropic

from checks import check, config, http

cfg = config()
GW = cfg["gateway"]
ADMIN = {"authorization": f"Bearer {cfg['admin_key']}"}
status, _, data = http("POST", f"{GW}/admin/keys", {"name": "cloud-alice", "models": ["br:*", "vx:*"]}, ADMIN)
check(status == 201, f"virtual key created ({status})")  # the body holds the secret: not printed
created = json.loads(data)
key, key_id = created["key"], created["id"]

bedrock = anthropic.AnthropicBedrock(base_url=f"{GW}/bedrock", aws_region=cfg["region"], api_key=key, max_retries=0)
vertex = anthropic.AnthropicVertex(base_url=f"{GW}/vertex/v1", region=cfg["vertex_region"], project_id=cfg["project"],
                                   access_token=key, max_retries=0)
HELLO = [{"role": "user", "content": "Hello"}]
sent = 0
for client, model in ((bedrock, cfg["bedrock_model"]), (vertex, cfg["vertex_model"])):
    message = client.messages.create(model=model, max_tokens=64, messages=HELLO)
    check(message.content, f"virtual key on {model}: create")
    with client.messages.stream(model=model, max_tokens=64, messages=HELLO) as s:
        check("".join(s.text_stream), f"virtual key on {model}: stream")
    sent += 2

quoted = urllib.parse.quote(cfg["refused_model"], safe="")
status, headers, data = http("POST", f"{GW}/bedrock/model/{quoted}/invoke",
                             {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": HELLO},
                             {"authorization": f"Bearer {key}"})
check(status == 403 and headers.get("x-amzn-errortype", "").endswith("Exception") and "message" in json.loads(data),
      f"a model outside the key's patterns: a Bedrock 403 ({status} {headers.get('x-amzn-errortype')} {data[:200]!r})")
try:
    vertex.messages.create(model=cfg["refused_model"], max_tokens=10, messages=HELLO)
    raise SystemExit("FAILED: a model outside the key's patterns was served on the Vertex route")
except anthropic.PermissionDeniedError as e:
    check(e.body["error"]["type"] == "permission_error", f"… and an Anthropic permission_error on Vertex ({e.body})")

status, _, data = http("GET", f"{GW}/admin/keys/{key_id}", None, ADMIN)
usage = json.loads(data)["usage"]
check(usage["requests_in_window"] >= sent, f"the key's requests counted ({usage})")
want = cfg["tokens_per_request"] * sent
check(usage["tokens_in_window"] == want, f"the key's tokens are the streams' and answers' usage: "
      f"{usage['tokens_in_window']} == {want} ({usage})")
# The metrics count the dialect routes and the tokens the Bedrock and Vertex answers reported.
status, _, data = http("GET", f"{GW}/metrics", None, ADMIN)
check(status == 200, f"GET /metrics ({status})")
totals = {}
for line in data.decode().splitlines():
    if line.startswith("#") or "{" not in line:
        continue
    name, rest = line.split("{", 1)
    labels_text, value = rest.rsplit("}", 1)
    labels = dict(part.split("=", 1) for part in labels_text.replace('"', "").split(",") if "=" in part)
    if name == "gatehouse_requests_total":
        key = ("requests", labels.get("route"), labels.get("provider"))
    elif name == "gatehouse_tokens_total":
        key = ("tokens", labels.get("kind"), labels.get("provider"))
    else:
        continue
    totals[key] = totals.get(key, 0) + float(value.split()[0])
for route, provider in (("bedrock_invoke", "br"), ("bedrock_invoke_stream", "br"),
                        ("vertex_raw_predict", "vx"), ("vertex_stream_raw_predict", "vx")):
    check(totals.get(("requests", route, provider), 0) >= 1, f"metrics: {route} to {provider} counted")
for provider in ("br", "vx"):
    got = (totals.get(("tokens", "input", provider), 0), totals.get(("tokens", "output", provider), 0))
    check(got == (50, 22), f"metrics: {provider}'s tokens are its answers' usage (input, output) {got} == (50, 22)")
print("keys: all checks passed")
