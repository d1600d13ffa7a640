"""Drive a Dash app's callbacks through Flask's test client (no browser), as a page would.

``fire_all(app, client, pathname, n)`` posts one request to /_dash-update-component for every
registered callback, with the URL set to ``pathname`` and plausible values for the other inputs,
and returns the HTTP status codes (204 = the callback chose not to update).
"""
from __future__ import annotations

import json


def _outputs(key: str) -> tuple[list[dict] | dict, bool]:
    """The ``outputs`` field Dash's renderer sends for a callback_map key."""
    multi = key.startswith("..")
    parts = key.strip(".").split("...") if multi else [key]
    specs = []
    for p in parts:
        ident, prop = p.rsplit(".", 1)
        specs.append({"id": ident, "property": prop.split("@")[0]})
    return (specs if multi else specs[0]), multi


def _value(ident: str, prop: str, pathname: str, n: int, memo: dict):
    if ident == "url" and prop == "pathname":
        return pathname
    if prop == "n_intervals":
        return n
    if (ident, prop) in memo:
        return memo[(ident, prop)]
    if prop == "value" and "filter" in ident:
        return ""
    if prop == "relayoutData":
        return {"xaxis.range[0]": 0, "xaxis.range[1]": 10 + n} if n % 2 else {"autosize": True}
    return None


def fire_all(app, client, pathname: str, n: int = 0, memo: dict | None = None) -> list[int]:
    """One request per callback; returns the status codes. ``memo`` keeps store outputs (signatures)
    between rounds so polling callbacks see their previous value, as in a browser."""
    memo = {} if memo is None else memo
    codes = []
    for key, cb in app.callback_map.items():
        outputs, multi = _outputs(key)
        inputs = [{**i, "value": _value(i["id"], i["property"], pathname, n, memo)}
                  for i in cb.get("inputs", [])]
        state = [{**s, "value": _value(s["id"], s["property"], pathname, n, memo)}
                 for s in cb.get("state", [])]
        body = {"output": key, "outputs": outputs, "inputs": inputs, "state": state,
                "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs]}
        r = client.post("/_dash-update-component", data=json.dumps(body),
                        content_type="application/json")
        codes.append(r.status_code)
        if r.status_code == 200:
            try:
                resp = r.get_json()["response"]
            except (TypeError, KeyError, ValueError):
                continue
            for ident, props in resp.items():
                for prop, val in props.items():
                    if prop == "data":           # dcc.Store values flow into the next round
                        memo[(ident, prop)] = val
    return codes


def get_pages(client, paths) -> list[int]:
    """GET each path (the shell, the layout, the dependency graph, a file route)."""
    return [client.get(p).status_code for p in paths]
