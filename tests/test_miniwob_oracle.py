"""The MiniWoB++ oracle on hand-written DOMs (no browser): it reads state, so it recovers from wrong steps."""

from __future__ import annotations

from vlagent.actions.models import Click, Key, TypeText
from vlagent.envs.miniwob_oracle import Element, Page, element_from_miniwob, oracle_action

FIELD = dict(ref=5, parent=4, tag="input_text", left=5, top=60, width=100, height=20, id="tt")
SUBMIT = Element(ref=6, parent=4, tag="button", text="Submit", left=5, top=90, width=100, height=30)


def page(field: Element, target: str = "Ann", scale: float = 1.0) -> Page:
    return Page([field, SUBMIT], {"target": target}, size=(round(160 * scale), round(210 * scale)), scale=scale)


def test_enter_text_steps_follow_the_field_state() -> None:
    blank = Element(**FIELD)
    first = oracle_action("enter-text", page(blank))
    assert isinstance(first, Click) and (first.point.x, first.point.y) == (55, 70)
    focused = Element(**FIELD, focused=True)
    assert oracle_action("enter-text", page(focused)) == TypeText(text="Ann")
    partial = Element(**FIELD, focused=True, value="An")
    assert oracle_action("enter-text", page(partial)) == TypeText(text="n")
    wrong = Element(**FIELD, focused=True, value="Ax")
    assert oracle_action("enter-text", page(wrong)) == Key(name="backspace")
    done = Element(**FIELD, value="Ann")
    submit = oracle_action("enter-text", page(done, scale=2.0))
    assert isinstance(submit, Click) and (submit.point.x, submit.point.y) == (110, 210)


def test_unknown_tasks_and_offscreen_targets_have_no_oracle() -> None:
    assert oracle_action("drag-box", page(Element(**FIELD))) is None
    far = Element(ref=4, parent=3, tag="button", text="Click", left=12, top=300, width=30, height=30)
    assert oracle_action("click-test", Page([far], {}, size=(160, 210))) is None


def test_covered_centre_moves_the_click_to_the_visible_part() -> None:
    one = Element(ref=4, parent=3, tag="button", text="ONE", left=10, top=146, width=40, height=40)
    two = Element(ref=5, parent=3, tag="button", text="TWO", left=10, top=133, width=40, height=40)
    action = oracle_action("click-test-2", Page([one, two], {"target": "ONE"}, size=(160, 210)))
    assert isinstance(action, Click)
    assert 175 < action.point.y < 186 and 10 <= action.point.x < 50  # below TWO, inside ONE


def test_checkboxes_toggle_only_what_differs() -> None:
    raw = [
        {"ref": 5, "parent": 4, "tag": "label", "left": [2], "top": [59], "width": [47], "height": [11]},
        {"ref": 6, "parent": 5, "tag": "input_checkbox", "value": "True", "left": [6], "top": [55], "width": [20],
         "height": [13]},
        {"ref": -1, "parent": 5, "tag": "t", "text": "keep", "left": [29], "top": [59], "width": [19], "height": [11]},
        {"ref": 7, "parent": 4, "tag": "label", "left": [2], "top": [78], "width": [62], "height": [11]},
        {"ref": 8, "parent": 7, "tag": "input_checkbox", "value": "True", "left": [6], "top": [74], "width": [20],
         "height": [13]},
        {"ref": -2, "parent": 7, "tag": "t", "text": "drop", "left": [29], "top": [78], "width": [35], "height": [11]},
        {"ref": 9, "parent": 3, "tag": "button", "text": "Submit", "left": [2], "top": [101], "width": [101],
         "height": [31]},
    ]
    elements = [element_from_miniwob({"id": "", "classes": "", **r}) for r in raw]
    action = oracle_action("click-checkboxes", Page(elements, {"target 0": "keep"}, size=(160, 210)))
    assert isinstance(action, Click) and (action.point.x, action.point.y) == (16, 80)  # untick "drop"
