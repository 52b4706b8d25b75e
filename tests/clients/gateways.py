#!/usr/bin/env python3
"""Send filterd exactly what an AI gateway's moderation plugin sends, and apply
that gateway's own decision rule to the answer. Each request is built the way
the gateway's source builds it (headers, body encoding, signature fields), so a
test through this script is a test of the wire shape the gateway relies on.

usage: gateways.py HOST:PORT GATEWAY [OPTIONS] TEXT...

GATEWAY and what it emulates:
  litellm-azure    LiteLLM's Azure Content Safety text moderation guardrail
                   (guardrail_hooks/azure): POST {api_base}/contentsafety/
                   text:analyze?api-version=2024-09-01, Ocp-Apim-Subscription-Key,
                   {text, categories, blocklistNames, haltOnBlocklistHit,
                   outputType}; blocks when any category's severity >= 2.
  kong-azure       Kong's ai-azure-content-safety: the user messages joined with
                   "\\n\\n", ?api-version=2023-10-01, Accept and Content-Type
                   JSON; blocks when a configured category reaches its
                   rejection_level (Hate and Violence at 2 here); no or empty
                   categoriesAnalysis is an error (Kong answers 500).
  litellm-generic  LiteLLM's generic guardrail API: POST /beta/
                   litellm_basic_guardrail_api {litellm_call_id, texts, ...};
                   blocks when action == "BLOCKED"; any HTTP error is an error.
  portkey          Portkey's webhook guardrail: the hook context as JSON;
                   fails the check when verdict is false (--after: an
                   afterRequestHook on a response text).
  apisix           APISIX ai-aliyun-content-moderation: one keep-alive
                   connection, each TEXT one piece: POST / with the RPC fields
                   form-encoded (ngx.encode_args) and an HMAC-SHA1 Signature;
                   blocks at RiskLevel >= high (risk_level_bar default).
  higress          Higress ai-security-guard (TextModerationPlus): each TEXT
                   one piece on a new connection: POST /?Service=... with
                   ServiceParameters form-encoded in the body and
                   ACS3-HMAC-SHA256 headers; blocks at RiskLevel >=
                   contentModerationLevelBar, set to high as docs/gateways.md
                   says (the plugin's default, max, never blocks).

Options: --token T (sent as the gateway sends its key), --session S (Aliyun
sessionId, else a fresh one as the gateway makes), --after (portkey).
Prints one line per call: BLOCK or PASS, then the decisive detail, or
ERROR STATUS BODY when the gateway would treat the answer as a failure.
"""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import sys
import urllib.parse
import uuid


def connect(target):
    host, port = target.rsplit(":", 1)
    return http.client.HTTPConnection(host.strip("[]"), int(port), timeout=10)


def post(conn, path, body, headers):
    conn.request("POST", path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def out(verdict, detail):
    print(verdict, detail)
    sys.stdout.flush()


# ---- Azure (LiteLLM, Kong) -------------------------------------------------

def litellm_azure(target, texts, token, **_):
    conn = connect(target)
    for t in texts:
        body = {"text": t, "categories": ["Hate", "Sexual", "SelfHarm", "Violence"],
                "blocklistNames": None, "haltOnBlocklistHit": False,
                "outputType": "FourSeverityLevels"}
        st, data = post(conn, "/contentsafety/text:analyze?api-version=2024-09-01",
                        json.dumps(body), {"Ocp-Apim-Subscription-Key": token or "",
                                           "Content-Type": "application/json"})
        try:
            resp = json.loads(data)
            cats = resp["categoriesAnalysis"]  # LiteLLM indexes it: a KeyError fails the call
        except (ValueError, KeyError, TypeError):
            out("ERROR", "%d %s" % (st, data.decode(errors="replace")))
            continue
        hit = [c for c in cats if c["severity"] >= 2]  # default_severity_threshold
        out("BLOCK" if hit else "PASS", ",".join("%s=%d" % (c["category"], c["severity"])
                                                 for c in cats))


KONG_CATEGORIES = [{"name": "Hate", "rejection_level": 2},
                   {"name": "Violence", "rejection_level": 2}]


def kong_azure(target, texts, token, **_):
    conn = connect(target)
    for t in texts:
        messages = [{"role": "system", "content": "be nice"}, {"role": "user", "content": t}]
        text = "".join((m.get("content") or " ") + "\n\n" for m in messages if m["role"] == "user")
        body = {"text": text, "categories": [c["name"] for c in KONG_CATEGORIES],
                "haltOnBlocklistHit": True, "outputType": "FourSeverityLevels"}
        st, data = post(conn, "/contentsafety/text:analyze?api-version=2023-10-01",
                        json.dumps(body), {"Content-Type": "application/json",
                                           "Accept": "application/json",
                                           "Ocp-Apim-Subscription-Key": token or ""})
        if st != 200:
            out("ERROR", "%d %s" % (st, data.decode(errors="replace")))
            continue
        resp = json.loads(data)
        cats = resp.get("categoriesAnalysis")
        if not isinstance(cats, list) or not cats:
            out("ERROR", "content safety introspection is invalid")
            continue
        levels = {c["name"]: c["rejection_level"] for c in KONG_CATEGORIES}
        breached = [c["category"] for c in cats
                    if c["category"] in levels and c["severity"] >= levels[c["category"]]]
        out("BLOCK" if breached else "PASS",
            "breached " + ",".join(breached) if breached else "ok")


# ---- LiteLLM generic guardrail API ---------------------------------------

def litellm_generic(target, texts, token, **_):
    conn = connect(target)
    body = {"litellm_call_id": str(uuid.uuid4()), "litellm_trace_id": str(uuid.uuid4()),
            "texts": texts, "request_data": {"user_api_key_alias": "test"}, "images": None,
            "tools": None, "structured_messages": None,
            "additional_provider_specific_params": {}, "input_type": "request"}
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token  # the guardrail's configured headers
    st, data = post(conn, "/beta/litellm_basic_guardrail_api", json.dumps(body), headers)
    if st // 100 != 2:  # raise_for_status(): the call fails
        out("ERROR", "%d %s" % (st, data.decode(errors="replace")))
        return
    resp = json.loads(data)
    if resp.get("action") == "BLOCKED":
        out("BLOCK", resp.get("blocked_reason") or "Content violates policy")
    else:
        out("PASS", resp.get("action"))


# ---- Portkey webhook -----------------------------------------------------

def portkey(target, texts, token, after=False, **_):
    conn = connect(target)
    for t in texts:
        req_json = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content":
                                                          "hi" if after else t}]}
        ctx = {"request": {"json": req_json, "text": "hi" if after else t,
                           "isStreamingRequest": False, "isTransformed": False},
               "response": {"json": {"choices": [{"message": {"content": t}}]} if after else {},
                            "text": t if after else "", "statusCode": 200 if after else None},
               "provider": "openai", "requestType": "chatComplete",
               "metadata": {"_user": "test"},
               "eventType": "afterRequestHook" if after else "beforeRequestHook"}
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        st, data = post(conn, "/v1/webhooks/portkey", json.dumps(ctx), headers)
        try:
            verdict = json.loads(data).get("verdict")
        except ValueError:
            verdict = None
        if st != 200 or not isinstance(verdict, bool):
            out("ERROR", "%d %s" % (st, data.decode(errors="replace")))
        else:
            out("PASS" if verdict else "BLOCK", "verdict=%s" % json.dumps(verdict))


# ---- Aliyun TextModerationPlus (APISIX, Higress) --------------------------

LEVELS = {"max": 4, "high": 3, "medium": 2, "low": 1, "none": 0}


def aliyun_verdict(st, data, bar="high"):
    try:
        resp = json.loads(data)
    except ValueError:
        resp = None
    if st != 200 or not isinstance(resp, dict) or resp.get("Code") != 200:
        out("ERROR", "%d %s" % (st, data.decode(errors="replace")))
        return
    d = resp.get("Data") or {}
    level = d.get("RiskLevel")
    if LEVELS.get(level, -1) >= LEVELS[bar]:
        # both gateways show Advice[0].Answer and log Result[0]'s Label
        res0 = (d.get("Result") or [{}])[0]
        out("BLOCK", "%s %s %s" % (level, res0["Label"], res0.get("RiskWords", "")))
    else:
        out("PASS", level)


def ngx_escape_uri(s):
    # ngx.escape_uri (component): the sub-delims !'()* stay as they are
    return urllib.parse.quote(s, safe="-_.~!'()*")


def apisix(target, texts, token, session=None, **_):
    session = session or str(uuid.uuid4())
    conn = connect(target)  # APISIX keeps one httpc per request (keepalive)
    secret = "secret"
    for t in texts:
        params = {
            "AccessKeyId": token or "LTAIexample",
            "Action": "TextModerationPlus",
            "Format": "JSON",
            "RegionId": "cn-shanghai",
            "Service": "llm_response_moderation",
            "ServiceParameters": json.dumps({"sessionId": session, "content": t},
                                            ensure_ascii=False, separators=(",", ":")),
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": str(uuid.uuid4()),
            "SignatureVersion": "1.0",
            "Timestamp": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2022-03-02",
        }
        canon = "&".join(sorted(ngx_escape_uri(k) + "=" + urllib.parse.quote(v, safe="-_.~")
                                for k, v in params.items()))
        to_sign = "POST&%2F&" + ngx_escape_uri(canon)
        params["Signature"] = base64.b64encode(
            hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
        body = "&".join(ngx_escape_uri(k) + "=" + ngx_escape_uri(v) for k, v in params.items())
        st, data = post(conn, "/", body, {"Content-Type": "application/x-www-form-urlencoded"})
        aliyun_verdict(st, data)


def go_json(obj):
    # Go's json.Marshal of a map: sorted keys, no spaces, HTML characters escaped
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def percent_code(s):
    return s.replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def higress(target, texts, token, session=None, **_):
    session = session or uuid.uuid4().hex[:20]
    host = target
    ak, sk = token or "LTAIexample", "secret"
    for t in texts:
        query = {"Service": "llm_response_moderation"}
        sp = go_json({"content": t, "sessionId": session, "requestFrom": "higress"})
        body = urllib.parse.urlencode({"ServiceParameters": sp})
        headers = {
            "host": host,
            "x-acs-action": "TextModerationPlus",
            "x-acs-version": "2022-03-02",
            "x-acs-date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": str(uuid.uuid4()),
            "content-type": "application/x-www-form-urlencoded",
        }
        canon_q = "&".join(percent_code(urllib.parse.quote_plus(k)) + "=" +
                           percent_code(urllib.parse.quote_plus(v)) for k, v in sorted(query.items()))
        payload_hash = hashlib.sha256(body.encode()).hexdigest()
        headers["x-acs-content-sha256"] = payload_hash
        signed = sorted(k for k in headers
                        if k == "host" or k.startswith("x-acs-") or k == "content-type")
        canon_h = "".join(k + ":" + headers[k] + "\n" for k in signed)
        canon_req = "\n".join(["POST", "/", canon_q, canon_h, ";".join(signed), payload_hash])
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canon_req.encode()).hexdigest()
        sig = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = ("ACS3-HMAC-SHA256 Credential=%s,SignedHeaders=%s,Signature=%s"
                                    % (ak, ";".join(signed), sig))
        del headers["host"]  # Envoy adds it
        conn = connect(target)  # a new upstream connection each time: the worst case
        st, data = post(conn, "/?" + urllib.parse.urlencode(query), body, headers)
        conn.close()
        aliyun_verdict(st, data)


GATEWAYS = {"litellm-azure": litellm_azure, "kong-azure": kong_azure,
            "litellm-generic": litellm_generic, "portkey": portkey, "apisix": apisix,
            "higress": higress}


def main():
    args = sys.argv[1:]
    if len(args) < 3 or args[1] not in GATEWAYS:
        sys.exit(__doc__)
    target, gw, rest = args[0], args[1], args[2:]
    opts = {"token": None, "session": None, "after": False}
    texts = []
    i = 0
    while i < len(rest):
        if rest[i] in ("--token", "--session"):
            opts[rest[i][2:]] = rest[i + 1]
            i += 2
        elif rest[i] == "--after":
            opts["after"] = True
            i += 1
        else:
            texts.append(rest[i])
            i += 1
    GATEWAYS[gw](target, texts, **opts)


if __name__ == "__main__":
    main()
