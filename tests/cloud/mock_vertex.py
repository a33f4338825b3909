"""A mock Google Vertex AI (Anthropic publisher models) plus a mock OAuth2 token endpoint, checking what the real
ones check with implementations independent of gatehouse (PyJWT + cryptography for the JWT).

Usage: python3 mock_vertex.py [--project P] [--region R] [--static-token T]... [--expires-in SECS]
                              [--make-service-account PATH]
Prints its base URL (http://127.0.0.1:<port>) on the first stdout line, then serves until killed. With
--make-service-account it first writes a throwaway service-account key file (service_account.py) whose token_uri
is this mock's `/token`, and verifies assertions against that key.

- `POST /token` (form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`): the JWT must be
  RS256-signed by the service account's key, iss = client_email, aud = token_uri (or Google's
  canonical https://oauth2.googleapis.com/token, which google-auth sends), scope naming cloud-platform,
  exp - iat ≤ 3600, iat near now → `{"access_token", "expires_in", "token_type": "Bearer"}`; every exchange counted
  (`GET /_mock/stats` → `{"exchanges": n}`).
- `POST …/projects/{p}/locations/{r}/publishers/anthropic/models/{m}:rawPredict` → the scripted Messages JSON;
  `:streamRawPredict` → the scripted events as SSE (each event written in two pieces); `…/models/count-tokens:rawPredict`
  (model in the body) → `{"input_tokens": n}`. `Authorization: Bearer` must be a static token or an issued,
  unexpired one (else 401 UNAUTHENTICATED); project and region must be the configured ones (else 403). Bodies must
  carry `anthropic_version` and no `model` (count-tokens: with `model`); rawPredict with `"stream": true` is a 400.
  A model containing `overload` streams part of the answer, then an `error` event (overloaded_error).
`POST /_mock/issue` answers a fresh token as text (what a token command like `gcloud auth print-access-token`
prints; counted as `commands`); requests carrying one are recorded with auth "command".
Modes (`POST /_mock/config`): `{"revoke_tokens": true}` forgets every issued token once (the next call with an old
one gets 401); `{"expires_in": n}` changes the lifetime of tokens issued from then on.
"""

import argparse
import json
import secrets
import time
from urllib.parse import parse_qs, unquote

import jwt
from cryptography.hazmat.primitives import serialization

import mockhttp
import scripted
import service_account

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The audience Google's own token endpoint accepts besides the key file's token_uri (google-auth always sends it).
GOOGLE_AUD = "https://oauth2.googleapis.com/token"


def google_error(handler, status, kind, message):
    handler.send_json(status, {"error": {"code": status, "message": message, "status": kind}})


def token_endpoint(handler, record):
    state = handler.server.state
    record["action"] = "token"
    form = parse_qs(handler.body.decode())
    sa = state.config.get("service_account")
    if sa is None:
        return handler.send_json(400, {"error": "invalid_client", "error_description": "no service account known"})
    if form.get("grant_type") != [JWT_BEARER] or len(form.get("assertion", [])) != 1:
        record["error"] = "bad grant"
        return handler.send_json(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
    public = serialization.load_pem_private_key(sa["private_key"].encode(), None).public_key()
    try:
        claims = jwt.decode(form["assertion"][0], public, algorithms=["RS256"], audience=[sa["token_uri"], GOOGLE_AUD],
                            issuer=sa["client_email"], options={"require": ["iss", "aud", "iat", "exp", "scope"]})
    except jwt.PyJWTError as e:
        record["error"] = f"invalid_grant: {e}"
        return handler.send_json(400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {e}"})
    record["claims"] = claims
    record["jwt_header"] = jwt.get_unverified_header(form["assertion"][0])
    problems = []
    if "https://www.googleapis.com/auth/cloud-platform" not in claims["scope"].split():
        problems.append(f"scope {claims['scope']!r} lacks cloud-platform")
    if claims["exp"] - claims["iat"] > 3600:
        problems.append("exp more than an hour after iat")
    if abs(claims["iat"] - time.time()) > 300:
        problems.append("iat not near now")
    if problems:
        record["error"] = "; ".join(problems)
        return handler.send_json(400, {"error": "invalid_grant", "error_description": record["error"]})
    n = state.bump("exchanges")
    token = f"ya29.mock-{n}-{secrets.token_hex(8)}"
    lifetime = int(state.setting("expires_in"))
    with state.lock:
        state.config["tokens"][token] = time.time() + lifetime
    record["issued"] = n
    handler.send_json(200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"})


def control(handler, what):
    """`POST /_mock/issue`: a fresh token as plain text, for a token command (`<P>_TOKEN_COMMAND`); counted as
    `commands` in the stats."""
    if what != "issue":
        return False
    state = handler.server.state
    n = state.bump("commands")
    token = f"ya29.cmd-{n}-{secrets.token_hex(8)}"
    lifetime = int(state.setting("expires_in"))
    with state.lock:
        state.config["tokens"][token] = time.time() + lifetime
    data = (token + "\n").encode()
    handler.send_response(200)
    handler.send_header("content-type", "text/plain")
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
    return True


def authorized(handler, record):
    state = handler.server.state
    auth = handler.headers.get("authorization", "")
    token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
    with state.lock:
        if state.config.pop("revoke_tokens", False):
            state.config["tokens"].clear()
        if token in state.config["static_tokens"]:
            record["auth"] = "static"
            return True
        expiry = state.config["tokens"].get(token)
    if expiry is not None and expiry > time.time():
        record["token_serial"] = int(token.split("-")[1])
        record["auth"] = "command" if token.startswith("ya29.cmd-") else "issued"
        return True
    record["error"] = "UNAUTHENTICATED" if token else "no bearer token"
    google_error(handler, 401, "UNAUTHENTICATED",
                 "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                 "other valid authentication credential.")
    return False


def parse_path(path):
    """(project, region, model, action) of a Vertex publisher-model path, or None."""
    parts = path.split("?")[0].split("/")
    try:
        at = parts.index("projects")
    except ValueError:
        return None
    tail = parts[at:]
    if len(tail) != 8 or tail[2] != "locations" or tail[4:7] != ["publishers", "anthropic", "models"]:
        return None
    model, _, action = unquote(tail[7]).rpartition(":")
    return tail[1], tail[3], model, action


def api(handler):
    state = handler.server.state
    record = {"method": handler.command, "path": handler.path, "headers": handler.header_list(),
              "body_text": handler.body.decode("utf-8", "replace"), "body": None, "model": None, "action": None,
              "auth": None, "error": None}
    state.record(record)
    if handler.command == "POST" and handler.path.split("?")[0] == "/token":
        return token_endpoint(handler, record)
    try:
        record["body"] = json.loads(handler.body) if handler.body else None
    except ValueError:
        pass
    parsed = parse_path(handler.path)
    if handler.command != "POST" or parsed is None:
        record["error"] = "no such route"
        return google_error(handler, 404, "NOT_FOUND", f"no such route: {handler.command} {handler.path}")
    project, region, model, action = parsed
    record["model"], record["action"], record["project"], record["region"] = model, action, project, region
    if not authorized(handler, record):
        return
    if project != state.config["project"] or region != state.config["region"]:
        record["error"] = "wrong project or region"
        return google_error(handler, 403, "PERMISSION_DENIED",
                            f"Permission denied on resource project {project} (location {region}).")
    body = record["body"]
    problem = None
    if not isinstance(body, dict):
        problem = "body is not a JSON object"
    elif "anthropic_version" not in body:
        problem = "anthropic_version: Field required"
    elif model == "count-tokens" and action == "rawPredict":
        if "model" not in body:
            problem = "model: Field required"
    elif "model" in body:
        problem = "model: Extra inputs are not permitted"
    elif action not in ("rawPredict", "streamRawPredict"):
        problem = f"unknown method {action}"
    elif action == "rawPredict" and body.get("stream"):
        problem = "stream: rawPredict does not stream; use streamRawPredict"
    if problem:
        record["error"] = problem
        return google_error(handler, 400, "INVALID_ARGUMENT", problem)
    if model == "count-tokens":
        return handler.send_json(200, {"input_tokens": scripted.count_tokens(body)})
    if action == "rawPredict":
        return handler.send_json(200, scripted.message(body, "vertex", model))
    if "overload" in model:
        events = scripted.text_prefix_events(body, "vertex", model)
        events.append({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    else:
        events = scripted.events(body, "vertex", model)
    handler.start_chunked("text/event-stream", [("cache-control", "no-cache")])
    for event in events:
        data = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
        cut = len(data) // 2
        handler.write_chunk(data[:cut])
        time.sleep(0.002)
        handler.write_chunk(data[cut:])
    handler.end_chunked()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", default="mock-project")
    parser.add_argument("--region", default="us-east5")
    parser.add_argument("--static-token", action="append", default=[])
    parser.add_argument("--expires-in", type=int, default=3599)
    parser.add_argument("--make-service-account")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    state = mockhttp.MockState({"project": args.project, "region": args.region, "static_tokens": args.static_token,
                                "expires_in": args.expires_in, "tokens": {}, "service_account": None})

    def ready(url):
        if args.make_service_account:
            state.config["service_account"] = service_account.make(args.make_service_account, f"{url}/token",
                                                                   args.project)

    mockhttp.serve(api, state, args.verbose, ready, control)


if __name__ == "__main__":
    main()
