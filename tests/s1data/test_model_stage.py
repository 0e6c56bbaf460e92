"""s1data.stages._calls.ModelStage: what traces, difficulty and domains share.

A client is made on first use only (a skipped stage opens nothing), once per name, and a second run of
the same rows is served from the stage's cache without calling the model again.
"""

from __future__ import annotations

import json

import pytest

from s1data.stages._calls import require_client
from s1data.stages.domains import Domains, DomainsOptions
from s1data.stages.traces import Traces, TracesOptions


def _recordings(tmp_path, replies):
    path = tmp_path / "rec.jsonl"
    path.write_text("".join(json.dumps({"prompt": p, "text": t, "reasoning": "think"}) + "\n" for p, t in replies))
    return str(path)


def test_client_is_lazy_shared_by_name_and_calls_are_cached(tmp_path):
    rec = _recordings(tmp_path, [("What is 1+1?", "2"), ("Name a prime.", "3")])
    stage = Traces(TracesOptions(client={"kind": "recorded", "path": rec}), tmp_path)
    assert stage._clients == {}  # building a stage opens no client
    rows = [{"question": "What is 1+1?"}, {"question": "Name a prime."}]
    first = stage.process(rows)
    client = stage.client("teacher", stage.options.client)
    assert client.calls == 2 and first.extra == {"cached": 0, "called": 2}
    assert [r["attempt"] for r in first.kept] == ["2", "3"]
    again = Traces(TracesOptions(client={"kind": "recorded", "path": rec}), tmp_path).process(rows)
    assert again.extra == {"cached": 2, "called": 0} and again.kept == first.kept


def test_missing_client_is_named_with_an_example():
    with pytest.raises(ValueError, match=r"domains needs client: \{kind: openai"):
        DomainsOptions(client={})
    with pytest.raises(ValueError, match="traces needs client"):
        TracesOptions()
    require_client("x", {"kind": "recorded"})  # a spec given: no error


def test_domains_uses_the_same_skeleton(tmp_path):
    from s1data.stages.domains import domain_prompt

    rec = _recordings(tmp_path, [(domain_prompt("Count the graphs."), "Code: 05")])
    out = Domains(DomainsOptions(client={"kind": "recorded", "path": rec}),
                  tmp_path).process([{"question": "Count the graphs."}])
    assert out.kept[0]["domain"] == "05" and out.extra["called"] == 1
