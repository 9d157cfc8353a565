"""Clients of the local model's loopback server are made without loading the CA store.

httpx loads the whole CA store into a new TLS context as each client is made (25 ms of the event
loop that carries every candidate's audio); a session made four (line writer, turn scorer, slot
restore, report). Those talking plain HTTP to 127.0.0.1 share their server's context instead.
"""

from __future__ import annotations

import ssl

import pytest
from openai import AsyncOpenAI

from interviewer.local_llm import LocalLLMServer, loopback_tls
from tests.standins.openai_server import OpenAIStandIn


@pytest.fixture
def ca_loads(monkeypatch) -> list[str]:
    """Every load of CA certificates into a TLS context from now on."""
    loads: list[str] = []
    for name in ("load_verify_locations", "set_default_verify_paths"):
        real = getattr(ssl.SSLContext, name)

        def counting(self, *args, _real=real, _name=name, **kwargs):
            loads.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(ssl.SSLContext, name, counting)
    return loads


async def test_clients_of_the_local_server_load_no_ca_store_and_still_talk(ca_loads):
    standin = await OpenAIStandIn(lambda messages: "What did you measure?").start()
    try:
        plain = AsyncOpenAI(api_key="sk-test", base_url=standin.url)
        await plain.close()
        assert ca_loads, "the counter sees httpx's default client load the CA store"
        ca_loads.clear()

        server = LocalLLMServer(standin.url, "sk-test", "qwen", 0.0)
        async with server.openai_client(timeout=5) as client:
            reply = await client.chat.completions.create(
                model="qwen", messages=[{"role": "user", "content": "I tuned the cache."}]
            )
        assert reply.choices[0].message.content == "What did you measure?"
        assert ca_loads == []
        assert standin.requests[0]["auth"] == "Bearer sk-test"
    finally:
        await standin.stop()


def test_the_loopback_context_trusts_no_one():
    # Plain HTTP never uses it; an https URL given by mistake fails instead of going unverified.
    tls = loopback_tls()
    assert tls.verify_mode == ssl.CERT_REQUIRED and tls.check_hostname
    assert tls.cert_store_stats()["x509_ca"] == 0
