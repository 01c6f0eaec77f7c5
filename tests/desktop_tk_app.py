"""A small real Tk program that records the input it receives, for the desktop env tests.

Run as ``python desktop_tk_app.py LOG``: it fills the screen (no window manager under Xvfb, so the window is
placed at +0+0 with ``overrideredirect``), places widgets at fractions of the screen size, and appends one
JSON object per line to LOG, flushed at once:

- ``{"ev": "ready", "widgets": {name: [x, y, w, h]}, "screen": [w, h]}`` once mapped (root coordinates);
- ``{"ev": "press"|"release", "w": name, "num": button, "state": modifiers, "x": x_root, "y": y_root,
  "t": monotonic}``;
- ``{"ev": "double", "w": name, "num": button}`` on a double click;
- ``{"ev": "motion", "w": name, "x": x_root, "y": y_root}`` while button 1 is held over the pad;
- ``{"ev": "key", "keysym": ..., "char": ..., "state": ...}`` for every key press;
- ``{"ev": "entry", "text": ...}`` whenever the entry's text changes.

Each left click on OK toggles the "lamp" between grey and gold, a visible change for screenshot tests.

On X11 the wheel arrives as buttons 4 (up) and 5 (down); Tk 8.6 turns the horizontal wheel buttons 6 (left)
and 7 (right) into Shift-Button-4 and Shift-Button-5 (Shift is bit 1 of ``state``). The entry's caret does not
blink (``insertofftime=0``) so screenshots of an idle window are identical, which the settle logic and
gymnasium's reset-determinism check rely on.
"""

from __future__ import annotations

import json
import sys
import time
import tkinter as tk

COLORS = {
    "ok": "#20a040", "cancel": "#c03030", "pad": "#0080ff", "background": "#f0f0f0", "entry": "#ffffff",
    "lamp": "#808080", "lamp_on": "#ffd700",
}


def _button(e: tk.Event) -> dict[str, object]:
    return {"num": e.num, "state": int(e.state), "x": e.x_root, "y": e.y_root, "t": time.monotonic()}


def main(log_path: str) -> None:
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the app

    def emit(**record: object) -> None:
        log.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.flush()

    root = tk.Tk()
    sw, sh = root.winfo_screenwidth(), root.winfo_screenheight()
    root.overrideredirect(True)
    root.geometry(f"{sw}x{sh}+0+0")
    root.configure(background=COLORS["background"])

    widgets: dict[str, tk.Widget] = {"background": root}
    widgets["ok"] = tk.Button(root, text="OK", background=COLORS["ok"], activebackground=COLORS["ok"])
    widgets["cancel"] = tk.Button(
        root, text="Cancel", background=COLORS["cancel"], activebackground=COLORS["cancel"]
    )
    text = tk.StringVar(root)
    widgets["entry"] = tk.Entry(
        root, textvariable=text, background=COLORS["entry"], insertofftime=0, font=("TkFixedFont", 14)
    )
    widgets["pad"] = tk.Canvas(root, background=COLORS["pad"], highlightthickness=0)
    widgets["lamp"] = tk.Frame(root, background=COLORS["lamp"])  # lights up on each click of OK
    # Fractions of the screen, so the layout differs between screen sizes and clicks must be converted right.
    widgets["ok"].place(relx=0.10, rely=0.10, relwidth=0.12, relheight=0.08)
    widgets["cancel"].place(relx=0.30, rely=0.10, relwidth=0.12, relheight=0.08)
    widgets["entry"].place(relx=0.10, rely=0.30, relwidth=0.40, relheight=0.06)
    widgets["pad"].place(relx=0.55, rely=0.45, relwidth=0.35, relheight=0.40)
    widgets["lamp"].place(relx=0.10, rely=0.50, relwidth=0.10, relheight=0.10)

    def on_release(e: tk.Event, name: str) -> None:
        emit(ev="release", w=name, **_button(e))
        if name == "ok" and e.num == 1:
            lit = widgets["lamp"].cget("background") == COLORS["lamp_on"]
            widgets["lamp"].configure(background=COLORS["lamp"] if lit else COLORS["lamp_on"])

    for name, widget in widgets.items():
        if name == "background":
            continue
        widget.bind("<ButtonPress>", lambda e, n=name: emit(ev="press", w=n, **_button(e)))
        widget.bind("<ButtonRelease>", lambda e, n=name: on_release(e, n))
        for num in (1, 2, 3):  # not the wheel: repeated wheel clicks would match Double too
            widget.bind(f"<Double-ButtonPress-{num}>", lambda e, n=name: emit(ev="double", w=n, num=e.num))
    # The root's own binding would also fire for its children (bindtags), so filter on the event's widget.
    root.bind("<ButtonPress>", lambda e: emit(ev="press", w="background", **_button(e)) if e.widget is root else None)
    widgets["pad"].bind("<B1-Motion>", lambda e: emit(ev="motion", w="pad", x=e.x_root, y=e.y_root))
    root.bind_all("<KeyPress>", lambda e: emit(ev="key", keysym=e.keysym, char=e.char, state=e.state))
    text.trace_add("write", lambda *_: emit(ev="entry", text=text.get()))

    def ready() -> None:
        boxes = {
            n: [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()] for n, w in widgets.items()
        }
        emit(ev="ready", widgets=boxes, screen=[sw, sh])

    root.update_idletasks()
    root.wait_visibility(root)
    root.after_idle(ready)
    root.mainloop()


if __name__ == "__main__":
    main(sys.argv[1])
