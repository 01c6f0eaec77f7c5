"""The Python backend: ``module:attr`` factories, plain strings wrapped, typed errors for bad specs."""

from __future__ import annotations

import textwrap

import pytest

from vlagent.model import Chat, Generation, GenerationOptions, make_backend
from vlagent.model.errors import ModelLoadError, ModelRejected
from vlagent.model.python_backend import PythonBackend

pytestmark = pytest.mark.timeout(30)

POLICIES = '''
from vlagent.model.chat import Generation

CALLS = []

class Oracle:
    """A scripted policy: clicks the oracle point the env put in the chat's metadata."""

    def generate(self, chats, **options):
        CALLS.append(options)
        out = []
        for chat in chats:
            x, y = chat.metadata.get("oracle", (0, 0))
            out.append(f"click(start_box='({x},{y})')")
        return out

def rich():
    class Rich:
        def generate(self, chats, **options):
            return [Generation(text="done", prompt_tokens=5, new_tokens=1) for _ in chats]
    return Rich()

def short():
    class Short:
        def generate(self, chats, **options):
            return ["only one"]
    return Short()

def numbers():
    class Numbers:
        def generate(self, chats, **options):
            return [42 for _ in chats]
    return Numbers()

def needs_args(path):
    return None

INSTANCE = Oracle()
NOT_A_POLICY = 3
'''


@pytest.fixture
def policies(tmp_path, monkeypatch):
    name = f"vlagent_test_policies_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(POLICIES))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_a_factory_returning_strings_becomes_a_backend(policies):
    backend = make_backend("python", f"{policies}:Oracle")
    chats = [Chat.simple("click OK"), Chat.simple("click Cancel")]
    chats[0].metadata["oracle"] = (512, 301)
    chats[1].metadata["oracle"] = (100, 200)
    gens = backend.generate(chats, GenerationOptions(max_new_tokens=9, stop=("\n",)))
    assert [g.text for g in gens] == ["click(start_box='(512,301)')", "click(start_box='(100,200)')"]
    assert all(isinstance(g, Generation) for g in gens)
    import importlib

    calls = importlib.import_module(policies).CALLS
    assert calls[-1]["max_new_tokens"] == 9 and calls[-1]["stop"] == ("\n",)
    assert set(calls[-1]) == {"max_new_tokens", "temperature", "top_p", "stop", "min_pixels", "max_pixels"}


def test_generation_objects_pass_through_and_instances_are_used_as_they_are(policies):
    gen = PythonBackend.from_spec(f"{policies}:rich").generate([Chat.simple("x")])[0]
    assert (gen.text, gen.prompt_tokens, gen.new_tokens) == ("done", 5, 1)
    chat = Chat.simple("x")
    chat.metadata["oracle"] = (1, 2)
    assert (
        PythonBackend.from_spec(f"{policies}:INSTANCE").generate([chat])[0].text == "click(start_box='(1,2)')"
    )


@pytest.mark.parametrize(
    ("attr", "error", "match"),
    [
        ("short", ModelRejected, "returned 1 results for 2 chats"),
        ("numbers", ModelRejected, "returned a int for chat 0"),
    ],
)
def test_bad_results_are_typed_errors(policies, attr, error, match):
    with pytest.raises(error, match=match):
        PythonBackend.from_spec(f"{policies}:{attr}").generate([Chat.simple("a"), Chat.simple("b")])


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ("no_colon_here", ModelRejected, "module:attr"),
        ("vlagent_no_such_module_xyz:f", ModelLoadError, "cannot import"),
        ("{p}:missing", ModelLoadError, "no attribute 'missing'"),
        ("{p}:NOT_A_POLICY", ModelLoadError, "no generate"),
        ("{p}:needs_args", ModelLoadError, "with no arguments"),
    ],
)
def test_bad_specs_are_typed_errors(policies, spec, error, match):
    with pytest.raises(error, match=match):
        PythonBackend.from_spec(spec.format(p=policies))
