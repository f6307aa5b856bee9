"""The help screen: what can be typed or said, and the keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP_TEXT = """\
# draggan-assistant

Type a command and press **Enter**, or hold a conversation with the push-to-talk key.
Everything said goes through the same parser as what is typed.

## Commands
- `open the mouth`, `smile`, `raise the left eyebrow`, `turn the head right`: finds the part on
  the face and drags it
- `drag 20,30 to 28,30` (or `move 20 30 to 28 30`): drag explicit points (image pixels, x right,
  y down); `drag 20,30 to 28,30 and 40,30 to 32,30` moves several handles at once
- `points 20,30 28,30`: place handle, target (like clicks) without dragging yet
- `undo`, `redo`, `reset`: move through the history (or choose an entry in the history panel)
- `cancel` / `stop`: stop the running drag; what it reached stays as an undoable edit
- `steps 80`, `use w+`, `use w`, `lr 0.002`: drag settings for the next edits
- `mask the mouth` / `no mask`: only that part may change in the next drags (yellow outline)
- `save`, `save PATH.png`: write the picture and a replayable edit script (PATH.png.json)
- `history`: focus the history panel; `help`: this screen; `quit`: leave (the session is saved)

## Mouse
Left click on the picture: a **handle** (red), click again: its **target** (blue). Repeat for
more pairs, then press the run key. Right click clears the points. The yellow outline is the
mask (the part allowed to change), when a command names one.

## Keys
| key | action |
|---|---|
| Enter | run the typed command |
| Up / Down | earlier / later commands |
| Right | accept the completion |
| Ctrl+G | drag the clicked points |
| Ctrl+L | clear the clicked points |
| Esc | cancel a running drag |
| Ctrl+Z / Ctrl+Y | undo / redo |
| Ctrl+T | push to talk: start recording, press again to stop and transcribe |
| Ctrl+S | save picture and edit script |
| F1 | this help |
| Ctrl+Q | quit |

Every completed edit is saved to the session folder at once; `draggan-assistant --resume`
reopens the latest session with its full history.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,f1", "dismiss", "close help")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP_TEXT)
