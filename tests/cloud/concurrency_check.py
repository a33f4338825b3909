"""Many clients at once through gatehouse: the plain SDK on /v1/messages, AnthropicBedrock on /bedrock and
AnthropicVertex on /vertex/v1, streamed and not, spread over bedrock, vertex, Anthropic- and OpenAI-format providers.
Every answer must be whole and right; the mocks must have accepted every signature and token (a signing or token
cache race shows up here), and a cold burst to a service-account provider costs one token exchange.

Usage: python3 concurrency_check.py '<json config>'
  gateway, api_key   gatehouse's URL and the gateway key
  region, project, vertex_region
  models             model ids to spread the requests over (each: its expected text, or "" for any)
  rounds             how many requests per (client, model, streamed)
  bedrock_mock, vertex_mock   the mocks' URLs
"""

from concurrent.futures import ThreadPoolExecutor

import anthropic

from checks import check, config, mock_get, mock_post

cfg = config()
GW, KEY = cfg["gateway"], cfg["api_key"]
clients = {
    "anthropic": anthropic.Anthropic(base_url=GW, api_key=KEY, max_retries=0, timeout=60),
    "bedrock": anthropic.AnthropicBedrock(base_url=f"{GW}/bedrock", aws_region=cfg["region"], api_key=KEY,
                                          max_retries=0, timeout=60),
    "vertex": anthropic.AnthropicVertex(base_url=f"{GW}/vertex/v1", region=cfg["vertex_region"],
                                        project_id=cfg["project"], access_token=KEY, max_retries=0, timeout=60),
}
for mock in (cfg["bedrock_mock"], cfg["vertex_mock"]):
    mock_post(mock, "reset", {})


def one(job):
    kind, model, expected, streamed, n = job
    client = clients[kind]
    messages = [{"role": "user", "content": f"Hello number {n}"}]
    if streamed:
        with client.messages.stream(model=model, max_tokens=64, messages=messages) as s:
            text = "".join(s.text_stream)
    else:
        message = client.messages.create(model=model, max_tokens=64, messages=messages)
        text = "".join(b.text for b in message.content if b.type == "text")
    return job, text


jobs = [(kind, model, expected, streamed, n)
        for kind in clients for model, expected in cfg["models"].items() for streamed in (False, True)
        for n in range(cfg["rounds"])]
with ThreadPoolExecutor(max_workers=16) as pool:
    futures = [pool.submit(one, job) for job in jobs]
    failures, done = [], 0
    for future in futures:
        try:
            job, text = future.result()
            if not text or (job[2] and text != job[2]):
                failures.append(f"{job[:4]}: text {text!r}")
            done += 1
        except Exception as e:  # report every failure, not just the first
            failures.append(f"{type(e).__name__}: {e}")
check(not failures, f"{len(jobs)} concurrent requests all answered right ({len(failures)} failed: {failures[:3]})")
for name, mock in (("bedrock", cfg["bedrock_mock"]), ("vertex", cfg["vertex_mock"])):
    bad = [r["error"] for r in mock_get(mock, "requests") if r["error"]]
    check(not bad, f"the {name} mock accepted every request ({bad[:3]})")
exchanges = mock_get(cfg["vertex_mock"], "stats").get("exchanges", 0)
check(exchanges == 1, f"the burst cost one service-account exchange ({exchanges})")
print("concurrency: all checks passed")
