"""Scenario replays: real speech and synthesized speech through the real pipeline and models."""

import pytest

from candidate.scenario import Scenario, all_scenarios, run_scenario

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", all_scenarios(), ids=lambda p: p.stem)
async def test_scenario(path, server, models):
    scenario = Scenario.load(path)
    result = await run_scenario(server.url, scenario, models.piper_voice)
    for i, out in enumerate(result.outcomes, 1):
        print(
            f"turn {i}: heard={out.heard!r} reply={out.reply[:80]!r} latency={out.latency_ms} stop={out.stop_ms}"
        )
    assert not result.failures, "\n".join(result.failures)
