"""Hot-case client (a separate process): ACTORS concurrent actors hammer one case for SECONDS —
seller staff make offers, the buyer counter-offers — each over its own HTTP connection. Prints
one JSON line: successes per action, status codes, latencies."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx


async def actor(client: httpx.AsyncClient, url: str, token: str, seller: bool, until: float,
                out: dict) -> None:
    path, body = (("offer", {"remedy": "partial_refund", "amount": 100_000, "note": "bench"})
                  if seller else
                  ("counter-offer", {"remedy": "partial_refund", "amount": 300_000, "note": "b"}))
    headers = {"Authorization": f"Token {token}"}
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            r = await client.post(f"{url}{path}/", json=body, headers=headers)
            code = r.status_code
        except httpx.HTTPError as exc:
            code = type(exc).__name__
        out["lat"].append(time.perf_counter() - t0)
        key = f"{path}:{code}"
        out["codes"][key] = out["codes"].get(key, 0) + 1


async def main(base: str, case_id: int, seconds: float, seller_tokens: list[str],
               buyer_token: str) -> dict:
    url = f"{base}/api/v1/cases/{case_id}/"
    out = {"codes": {}, "lat": []}
    until = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(seller_tokens) * 2 + 10)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        tasks = [actor(client, url, t, True, until, out) for t in seller_tokens]
        tasks += [actor(client, url, buyer_token, False, until, out) for _ in seller_tokens]
        await asyncio.gather(*tasks)
    lat = sorted(out.pop("lat"))
    pick = lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None  # noqa: E731
    out.update(requests=len(lat), p50_ms=pick(0.5), p99_ms=pick(0.99))
    return out


if __name__ == "__main__":
    spec = json.loads(sys.stdin.read())
    result = asyncio.run(main(spec["base"], spec["case_id"], spec["seconds"],
                              spec["seller_tokens"], spec["buyer_token"]))
    print("BENCHJSON " + json.dumps(result))
