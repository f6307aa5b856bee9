"""Hostile pickle payloads, written opcode by opcode, for the checkpoint fuzzer.

Each payload is an opcode sequence that leaves one object on the unpickler's stack, so it can
stand alone (`PROTO payload STOP`), run before a real checkpoint (`payload POP` right after the
protocol header), or replace one value inside it. The ones marked `real` run code under plain
`pickle.loads` (they create the marker file), so refusing them is not a vacuous pass; the others
abuse what a restricted unpickler might let through (BUILD on whitelisted objects, persistent ids,
extension codes, names with control characters).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

PROTO = b"\x80\x04"
STOP, POP, MARK, TUPLE, REDUCE, BUILD = b".", b"0", b"(", b"t", b"R", b"b"


@dataclass(frozen=True)
class Payload:
    name: str
    ops: bytes
    real: bool


def text(s: str) -> bytes:
    """BINUNICODE: any string, including newlines and escapes."""
    b = s.encode("utf-8", "surrogatepass")
    return b"X" + struct.pack("<I", len(b)) + b


def raw_bytes(b: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(b)) + b


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def call(fn: bytes, *args: bytes) -> bytes:
    return fn + MARK + b"".join(args) + TUPLE + REDUCE


def py_list(*items: bytes) -> bytes:
    return b"]" + MARK + b"".join(items) + b"e"


def standalone(payload: Payload) -> bytes:
    return PROTO + payload.ops + STOP


def prefixed(pickled: bytes, payload: Payload) -> bytes:
    """`payload` run (and its result dropped) before the rest of a pickle, after its PROTO."""
    if pickled[:1] != b"\x80":
        raise ValueError("expected a pickle that starts with PROTO")
    return pickled[:2] + payload.ops + POP + pickled[2:]


def substituted(pickled: bytes, placeholder: str, ops: bytes) -> bytes:
    """`pickled` with the BINUNICODE string `placeholder` replaced by `ops` (protocol <= 3, where
    strings are BINUNICODE and no frame lengths need fixing)."""
    encoded = text(placeholder)
    if pickled.count(encoded) != 1:
        raise ValueError(f"placeholder {placeholder!r} is not in the pickle exactly once")
    return pickled.replace(encoded, ops)


def deep_list(depth: int) -> bytes:
    """A list nested `depth` deep, built without recursion (EMPTY_LIST... APPEND...)."""
    return b"]" * depth + b"a" * (depth - 1)


def payloads(marker: Path) -> list[Payload]:
    """Every payload, aimed at creating `marker`."""
    m = str(marker)
    touch, code = f"touch {m}", f"open({m!r}, 'w').close()"
    argv = py_list(text("touch"), text(m))
    system = call(glob("os", "system"), text(touch))
    via_import = call(call(glob("builtins", "getattr"), call(glob("builtins", "__import__"), text("os")),
                           text("system")), text(touch))
    via_importlib = call(call(glob("builtins", "getattr"), call(glob("importlib", "import_module"), text("os")),
                              text("system")), text(touch))
    return [
        Payload("GLOBAL os.system REDUCE", system, True),
        Payload("GLOBAL posix.system REDUCE", call(glob("posix", "system"), text(touch)), True),
        Payload("GLOBAL builtins.exec REDUCE", call(glob("builtins", "exec"), text(code)), True),
        Payload("GLOBAL builtins.eval REDUCE", call(glob("builtins", "eval"), text(code)), True),
        Payload("GLOBAL builtins.open REDUCE", call(glob("builtins", "open"), text(m), text("w")), True),
        Payload("GLOBAL subprocess.call REDUCE", call(glob("subprocess", "call"), argv), True),
        Payload("GLOBAL subprocess.run REDUCE", call(glob("subprocess", "run"), argv), True),
        Payload("GLOBAL builtins.__import__/getattr chain", via_import, True),
        Payload("GLOBAL importlib.import_module chain", via_importlib, True),
        Payload("GLOBAL pickle.loads of a hostile pickle",
                call(glob("pickle", "loads"), raw_bytes(PROTO + system + STOP)), True),
        Payload("INST os.system", MARK + text(touch) + b"ios\nsystem\n", True),
        Payload("INST builtins.exec", MARK + text(code) + b"ibuiltins\nexec\n", True),
        Payload("OBJ os.system", MARK + glob("os", "system") + text(touch) + b"o", True),
        Payload("STACK_GLOBAL os.system REDUCE", text("os") + text("system") + b"\x93" + MARK + text(touch)
                + TUPLE + REDUCE, True),
        Payload("STACK_GLOBAL builtins.exec REDUCE", text("builtins") + text("exec") + b"\x93" + MARK + text(code)
                + TUPLE + REDUCE, True),
        Payload("BUILD with os.system in its state", call(glob("collections", "OrderedDict")) + b"}"
                + text("x") + system + b"s" + BUILD, True),
        Payload("BINPERSID of a tuple holding os.system", MARK + text("storage") + system + TUPLE + b"Q", True),
        Payload("STACK_GLOBAL with a newline and a terminal escape in its name",
                text("os\n\x1b[2J") + text("system") + b"\x93" + MARK + text(touch) + TUPLE + REDUCE, False),
        Payload("NEWOBJ subprocess.Popen", glob("subprocess", "Popen") + MARK + argv + TUPLE + b"\x81", False),
        Payload("NEWOBJ_EX subprocess.Popen", glob("subprocess", "Popen") + MARK + argv + TUPLE + b"}" + b"\x92",
                False),
        Payload("BUILD on a whitelisted function", glob("torch._utils", "_rebuild_tensor_v2") + b"}" + BUILD, False),
        Payload("BUILD slot state on a whitelisted function", glob("torch._utils", "_rebuild_parameter") + b"N}"
                + text("_fn") + glob("builtins", "exec") + b"s\x86" + BUILD, False),
        Payload("BUILD on the whitelisted dict type", glob("collections", "OrderedDict") + b"N}" + text("fromkeys")
                + text("x") + b"s\x86" + BUILD, False),
        Payload("BUILD numpy.dtype to an object dtype", call(glob("numpy", "dtype"), text("f8"), b"\x89\x88")
                + MARK + b"K\x03" + text("|") + b"N" + MARK + text("a") + TUPLE + b"}" + b"J\x08\x00\x00\x00"
                + b"K\x01K\x3f" + TUPLE + BUILD, False),
        Payload("numpy.dtype of objects", call(glob("numpy", "dtype"), text("O8"), b"\x89\x88"), False),
        Payload("PERSID", b"Ptouch\n", False),
        Payload("EXT1", b"\x82\x01", False),
        Payload("EXT2", b"\x83\x01\x00", False),
        Payload("EXT4", b"\x84\x01\x00\x00\x00", False),
        Payload("GLOBAL torch.load REDUCE", call(glob("torch", "load"), text(m)), False),
        Payload("GLOBAL dnnlib.util.call_func_by_name REDUCE",
                call(glob("dnnlib.util", "call_func_by_name"), text("os.system"), text(touch)), False),
        Payload("persistence record with code in module_src",
                call(glob("torch_utils.persistence", "_reconstruct_persistent_obj"),
                     b"}" + MARK + text("type") + text("class") + text("version") + b"K\x06" + text("module_src")
                     + text(code) + text("class_name") + text("Generator") + text("state") + b"}" + b"u"), False),
    ]
