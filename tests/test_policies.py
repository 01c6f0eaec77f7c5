"""Policies: the oracle reads the env's info, a model reads only the chat, and both replies run the real pipeline."""

from __future__ import annotations

from collections.abc import Sequence

from agent_fixtures import ScriptedBackend
from PIL import Image

from vlagent.actions.coords import Geometry, Point
from vlagent.actions.models import Choose, Click
from vlagent.agent.loop import Agent
from vlagent.agent.policy import ModelPolicy, Planned, PolicyStep, as_policy
from vlagent.agent.scripted import OraclePolicy, RandomPolicy, oracle_policy, random_option, random_policy
from vlagent.envs.base import Observation
from vlagent.envs.registry import make_env
from vlagent.model import make_backend
from vlagent.model.chat import Chat, Generation

GEOMETRY = Geometry(width=320, height=240, resized_width=308, resized_height=224)


def _step(task: str = "t", *, oracle: object = None, options: tuple[str, ...] = (), index: int = 0) -> PolicyStep:
    obs = Observation(Image.new("RGB", (320, 240)), options=options)
    info = {"oracle": oracle} if oracle is not None else {}
    return PolicyStep(obs, info, (), task, index, GEOMETRY, frozenset({"click", "choose"}), Chat.simple(task), None)


class _ChatReader:
    """A model stand-in (a chat backend) that keeps every chat it is sent."""

    name = "reader"

    def __init__(self) -> None:
        self.chats: list[Chat] = []

    def generate(self, chats: Sequence[Chat], options: object = None) -> list[Generation]:
        self.chats.extend(chats)
        return [Generation(text="Action: finished()") for _ in chats]


def test_no_chat_carries_the_ground_truth_or_the_geometry() -> None:
    oracle, model = ScriptedBackend(), _ChatReader()
    assert Agent(oracle, "ui-tars", make_env("synthetic:login", size=(640, 480))).run("", seed=0).success
    Agent(model, "ui-tars", make_env("synthetic:login", size=(640, 480))).run("", seed=0)
    for chat in oracle.chats + model.chats:
        assert not {"oracle", "geometry", "supported", "options"} & set(chat.metadata), chat.metadata


def test_the_oracle_reads_the_step_info_not_the_chat() -> None:
    target = Click(point=Point(x=100, y=50, space="screen"))
    (planned,) = OraclePolicy().decide([_step(oracle=target)])
    assert planned.actions == (target,) and planned.thought == "The next step is to click."


def test_the_random_baseline_ignores_the_ground_truth() -> None:
    target = Click(point=Point(x=100, y=50, space="screen"))
    actions = {RandomPolicy().next_action(_step(str(i), oracle=target)) for i in range(5)}
    assert target not in actions and all(a.type == "click" for a in actions)
    assert type(random_policy()) is not type(oracle_policy())
    assert RandomPolicy().next_action(_step(options=("left", "right"), oracle=target)).type == "choose"


def test_a_random_option_depends_on_the_task_and_the_step() -> None:
    names = ("left", "right", "up", "down")
    by_task = {random_option(_step(task, options=names)).option for task in "abcdefgh"}
    by_step = {random_option(_step("a", options=names, index=i)).option for i in range(8)}
    assert len(by_task) > 1 and len(by_step) > 1
    assert random_option(_step("a", options=names)) == random_option(_step("a", options=names))


def test_planned_actions_are_written_in_the_profile_format_and_parsed_back() -> None:
    class ClickOk:
        def decide(self, steps: Sequence[PolicyStep]) -> list[Planned]:
            return [Planned((Choose(option="x"),)) if s.step else Planned(tuple(_oracle(s))) for s in steps]

    def _oracle(step: PolicyStep) -> list[Click]:
        return [OraclePolicy().next_action(step)]  # type: ignore[list-item]

    result = Agent(ClickOk(), "ui-tars", make_env("synthetic:dialog", size=(320, 240)), max_steps=2).run("", seed=0)
    first, second = result.steps
    assert first.raw.startswith("Action: click(start_box=") and first.actions[0].executed
    assert first.prompt is not None  # the prompt is recorded whoever decides
    assert second.error is not None and second.error.type == "UnsupportedActionError"  # parsed, then refused


def test_registered_names_and_module_paths_become_policies() -> None:
    for spec in ("oracle", "random", "vlagent.agent.scripted:oracle_policy"):
        policy = as_policy(make_backend("python", spec))
        assert callable(policy.decide) and not isinstance(policy, ModelPolicy)
    assert isinstance(as_policy(_ChatReader()), ModelPolicy)


def test_a_policy_inside_the_python_backend_answers_batched_episodes_in_one_call() -> None:
    from vlagent.agent.batch import EpisodeJob, run_batched
    from vlagent.model.python_backend import PythonBackend

    calls: list[int] = []

    class Counting(OraclePolicy):
        def decide(self, steps: Sequence[PolicyStep]) -> list[Planned]:
            calls.append(len(steps))
            return super().decide(steps)

    backend = PythonBackend(Counting(), spec="counting")
    jobs = [EpisodeJob(f"e{s}", "", s, lambda: Agent(backend, "qwen2-vl", make_env("synthetic:dialog", size=(320, 240))))
            for s in range(3)]
    results = run_batched(jobs, workers=3)
    assert len(results) == 3 and all(r.success for r in results)
    assert max(calls) == 3 and all(r.meta.model == "counting" and r.meta.backend == "python" for r in results)
