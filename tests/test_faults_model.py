"""A sick model server ends `vlagent run` within its deadline: one typed error line, exit 3, a closed trajectory.

Each server is a real loopback socket (tests/faults_fixtures.py) that misbehaves the way servers measured
in the field did: one accepts and never answers (it took 485 s: 4 attempts x 120 s), one trickles a byte
every fraction of a second into the body or the headers (never cut off, since every read returns in time),
one answers 200 with a body that is not JSON (a JSONDecodeError traceback), one answers with a lone
surrogate in the text.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from faults_fixtures import (
    MisbehavingServer,
    completion_body,
    error_lines,
    misbehaving_server,
    never_answer,
    only_meta,
    reply_body,
    trickle,
    trickle_headers,
    vlagent,
)

from vlagent.agent.trajectory import find_episodes, read_steps
from vlagent.model import Chat
from vlagent.model.openai_backend import OpenAIBackend

pytestmark = pytest.mark.timeout(60)
DEADLINE = 1.0
SLACK = 1.5  # thread start, the client's setup, writing the trajectory


def run_against(capsys, monkeypatch, server: MisbehavingServer, out: Path, *extra: str) -> tuple[int, str, float]:
    """``vlagent run`` against ``server``: exit code, stderr, seconds from its first request to the exit."""
    args = ["run", "--backend", "openai", "--model", "m", "--base-url", server.base_url, "--out", str(out),
            "--no-report", *extra]
    rc, _, err = vlagent(capsys, monkeypatch, *args)
    return rc, err, time.monotonic() - (server.first_request_at or 0.0)


@pytest.mark.parametrize("answer", [never_answer, trickle(0.2), trickle_headers(0.2)],
                         ids=["never-answers", "trickles-body", "trickles-headers"])
def test_a_server_that_does_not_finish_is_cut_off_at_the_deadline_retries_included(
    capsys, monkeypatch, tmp_path: Path, answer
) -> None:
    with misbehaving_server(answer) as server:
        rc, err, seconds = run_against(capsys, monkeypatch, server, tmp_path,
                                       "--timeout", str(DEADLINE), "--max-retries", "3")
    assert seconds < DEADLINE + SLACK, f"took {seconds:.1f}s for a {DEADLINE}s deadline"
    (line,) = error_lines(err)
    assert rc == 3 and line.startswith("error: ModelUnavailable:") and f"{DEADLINE:g}s deadline" in line, err
    meta = only_meta(tmp_path)
    assert meta.done and meta.outcome == "model_error" and meta.error.type == "ModelUnavailable"


def test_retries_share_the_deadline_instead_of_each_getting_a_full_one(tmp_path: Path) -> None:
    with misbehaving_server(never_answer) as server:
        backend = OpenAIBackend("m", server.base_url, timeout=DEADLINE, max_retries=5, backoff=0.01)
        t0 = time.monotonic()
        with pytest.raises(Exception, match="deadline") as info:
            backend.generate([Chat.simple("x")])
    assert type(info.value).__name__ == "ModelUnavailable"
    assert time.monotonic() - t0 < DEADLINE + SLACK


def test_a_200_whose_body_is_not_json_is_a_rejected_reply(capsys, monkeypatch, tmp_path: Path) -> None:
    with misbehaving_server(reply_body(b'{"choices": [')) as server:
        rc, err, _ = run_against(capsys, monkeypatch, server, tmp_path, "--timeout", "5")
        requests = server.requests
    (line,) = error_lines(err)
    assert rc == 3 and line.startswith("error: ModelRejected:") and "not JSON" in line, err
    assert requests == 1  # the same request would get the same broken body: not retried
    meta = only_meta(tmp_path)
    assert meta.done and meta.outcome == "model_error" and meta.error.type == "ModelRejected"


def test_a_reply_with_a_lone_surrogate_is_recorded_escaped_and_the_episode_goes_on(
    capsys, monkeypatch, tmp_path: Path
) -> None:
    with misbehaving_server(reply_body(completion_body("\ud800 no action here"))) as server:
        rc, err, _ = run_against(capsys, monkeypatch, server, tmp_path, "--timeout", "5")
    assert rc == 0 and not error_lines(err), err
    (episode,) = find_episodes(tmp_path)
    steps = read_steps(episode)
    assert len(steps) > 1  # not stopped by the first reply
    assert steps[0].raw == "\\ud800 no action here"  # escaped, readable, and still says what arrived
    assert only_meta(tmp_path).outcome == "errors"  # unparsable replies fed back until the loop gave up


def test_eval_takes_the_same_deadline(capsys, monkeypatch, tmp_path: Path) -> None:
    with misbehaving_server(never_answer) as server:
        rc, _, err = vlagent(capsys, monkeypatch, "eval", "--suite", "synthetic", "--episodes", "1", "--workers", "1",
                             "--backend", "openai", "--model", "m", "--base-url", server.base_url, "--out",
                             str(tmp_path), "--timeout", str(DEADLINE), "--max-retries", "3", "--no-progress")
        seconds = time.monotonic() - (server.first_request_at or 0.0)
    (line,) = error_lines(err)
    assert rc == 3 and line.startswith("error: ModelUnavailable:") and seconds < DEADLINE + SLACK, err
    assert only_meta(tmp_path).outcome == "model_error"
