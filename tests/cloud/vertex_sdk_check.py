"""The official `anthropic` SDK's AnthropicVertex client against a Vertex endpoint: gatehouse's /vertex/v1 dialect
route (access_token = the gateway key), or mock_vertex.py directly.

Usage: python3 vertex_sdk_check.py '<json config>'
  base_url          the Vertex base URL (e.g. http://gw/vertex/v1)
  region, project   what the client puts in the path
  access_token      sent as Authorization: Bearer (the gateway key on gatehouse's route)
  gateway_key       optional, sent as x-gatehouse-key (when access_token is the client's own Google token)
  models            roles for checks.run_all (text, thinking, tools, script, stream_error)
  beta_model        optional: a create with an anthropic-beta header
  count_tokens      optional {"model": id, "expect": n}: client.messages.count_tokens
  vertex_mock       optional: mock_vertex.py's URL; its records are then checked
  expect_version    optional: the anthropic_version the mock must have received
  expect_model      optional: the model the mock must have received in the path
  expect_auth       optional: "issued" | "static": which kind of token the mock must have seen
  byte_exact        optional {"model": gateway model, "upstream_model": model, "direct": mock url/v1,
                    "direct_token": token}: the same streamRawPredict through gatehouse and straight to the mock
                    must give the same bytes
  auth_error        optional: a wrong gateway key must get a 401 Anthropic authentication_error envelope
"""

import anthropic

import json

from checks import check, config, http, mock_get, mock_post, run_all

BETA = "context-1m-2025-08-07"

cfg = config()
client = anthropic.AnthropicVertex(base_url=cfg["base_url"], region=cfg["region"], project_id=cfg["project"],
                                   access_token=cfg["access_token"], max_retries=0, timeout=60,
                                   default_headers={"x-gatehouse-key": cfg["gateway_key"]} if cfg.get("gateway_key") else None)
label = cfg.get("label", "AnthropicVertex")
mock = cfg.get("vertex_mock")
if mock:
    mock_post(mock, "reset", {})

run_all(client, label, cfg["models"])

if cfg.get("beta_model"):
    message = client.messages.create(model=cfg["beta_model"], max_tokens=64, extra_headers={"anthropic-beta": BETA},
                                     messages=[{"role": "user", "content": "Hello with a beta"}])
    check(message.content, f"{label}: create with an anthropic-beta header")

if cfg.get("count_tokens"):
    ct = cfg["count_tokens"]
    counted = client.messages.count_tokens(model=ct["model"], messages=[{"role": "user", "content": "Count me"}])
    check(counted.input_tokens == ct["expect"], f"{label}: count_tokens {counted.input_tokens} == {ct['expect']}")

if mock:
    records = [r for r in mock_get(mock, "requests") if r["action"] in ("rawPredict", "streamRawPredict")]
    check(records, f"{label}: the Vertex mock received the model requests")
    bad = [r["error"] for r in records if r["error"]]
    check(not bad, f"{label}: every request passed the mock's auth and body checks ({bad[:2]})")
    if cfg.get("expect_auth"):
        kinds = {r["auth"] for r in records}
        check(kinds == {cfg["expect_auth"]}, f"{label}: the mock saw {cfg['expect_auth']} tokens ({kinds})")
    for r in records:
        if r["model"] == "count-tokens":
            continue
        if cfg.get("expect_version"):
            version = r["body"].get("anthropic_version")
            check(version == cfg["expect_version"], f"{label}: anthropic_version {version!r} == {cfg['expect_version']!r}")
        if cfg.get("expect_model"):
            check(r["model"] == cfg["expect_model"], f"{label}: model {r['model']!r} == {cfg['expect_model']!r}")
        leaked = [h for h, _ in r["headers"] if h.lower() in ("x-gatehouse-key", "x-api-key")]
        check(not leaked, f"{label}: no gateway key headers reached Vertex ({leaked})")
    if cfg.get("beta_model"):
        betas = [v for r in records for h, v in r["headers"] if h.lower() == "anthropic-beta"]
        in_body = [r["body"].get("anthropic_beta") for r in records]
        check(any(BETA in b for b in betas) or any(isinstance(b, list) and BETA in b for b in in_body),
              f"{label}: the anthropic-beta value reached Vertex ({betas}, {in_body})")

STREAM_BODY = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 64, "stream": True,
               "messages": [{"role": "user", "content": "Hello, raw stream"}]}


def vertex_url(base, model, method):
    return f"{base}/projects/{cfg['project']}/locations/{cfg['region']}/publishers/anthropic/models/{model}:{method}"


if cfg.get("byte_exact"):
    be = cfg["byte_exact"]
    s1, _, via = http("POST", vertex_url(cfg["base_url"], be["model"], "streamRawPredict"), STREAM_BODY,
                      {"authorization": f"Bearer {cfg['access_token']}"})
    s2, _, direct = http("POST", vertex_url(be["direct"], be["upstream_model"], "streamRawPredict"), STREAM_BODY,
                         {"authorization": f"Bearer {be['direct_token']}"})
    check(s1 == 200 and s2 == 200, f"{label}: byte-exact: both streams answered ({s1}, {s2})")
    check(via == direct, f"{label}: the stream through gatehouse is byte-for-byte Vertex's ({via[:300]!r} vs {direct[:300]!r})")

if cfg.get("auth_error"):
    status, _, data = http("POST", vertex_url(cfg["base_url"], cfg["models"]["text"], "rawPredict"),
                           {**STREAM_BODY, "stream": False}, {"authorization": "Bearer not-the-gateway-key"})
    body = json.loads(data)
    check(status == 401 and body.get("type") == "error" and body["error"]["type"] == "authentication_error",
          f"{label}: a wrong key → 401 authentication_error envelope ({status} {body})")

print(f"{label}: all checks passed")
