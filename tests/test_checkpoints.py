"""The project's own formats load; every user mistake is one clear CheckpointError line."""

from __future__ import annotations

import json

import pytest
import torch

from assistant.cli import main
from stylegan2 import CheckpointError, load_generator, read_checkpoint, save_generator
from tests.conftest import tiny_generator


def test_safetensors_roundtrip(tmp_path, parity_generator):
    path = save_generator(parity_generator, tmp_path / "g.safetensors")
    assert json.loads(path.with_suffix(".json").read_text())["img_resolution"] == 256
    G = load_generator(path)
    for k, v in parity_generator.state_dict().items():
        assert torch.equal(G.state_dict()[k], v)
    assert not any(p.requires_grad for p in G.parameters())


def test_config_from_sibling_json_when_header_has_none(tmp_path):
    from safetensors.torch import save_file

    G = tiny_generator()
    save_file(G.state_dict(), str(tmp_path / "g.safetensors"))
    (tmp_path / "g.json").write_text(json.dumps(G.config.to_dict()))
    assert load_generator(tmp_path / "g.safetensors").img_resolution == 32


def test_torch_weights_only_state_dict(tmp_path):
    G = tiny_generator()
    torch.save({"config": G.config.to_dict(), "state_dict": G.state_dict()}, tmp_path / "g.pt")
    assert load_generator(tmp_path / "g.pt").num_ws == G.num_ws


def test_torch_file_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"config": {}, "state_dict": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="weights-only"):
        read_checkpoint(tmp_path / "evil.pt")


@pytest.mark.parametrize("make,pattern", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b""), "not a readable"),
    (lambda p: p.write_bytes(bytes(range(256)) * 40), "not a readable"),
])
def test_missing_empty_random_files(tmp_path, make, pattern):
    path = tmp_path / "g.safetensors"
    make(path)
    with pytest.raises(CheckpointError, match=pattern):
        load_generator(path)


def test_truncated_safetensors(tmp_path):
    path = save_generator(tiny_generator(), tmp_path / "g.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable"):
        load_generator(path)


def test_shape_mismatch_and_unknown_suffix(tmp_path):
    from safetensors.torch import save_file

    G = tiny_generator()
    state = dict(G.state_dict())
    state["synthesis.b4.const"] = torch.zeros(3, 4, 4)
    del state["mapping.fc0.bias"]
    save_file(state, str(tmp_path / "g.safetensors"), metadata={"generator_config": json.dumps(G.config.to_dict())})
    with pytest.raises(CheckpointError, match="1 missing.*wrong shape"):
        load_generator(tmp_path / "g.safetensors")
    (tmp_path / "g.onnx").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="unknown checkpoint type"):
        load_generator(tmp_path / "g.onnx")


def test_cli_reports_errors_in_one_line(tmp_path, capsys):
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 64)
    assert main(["info", str(tmp_path / "bad.safetensors")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err


def test_cli_info_and_sample(tmp_path, capsys):
    path = save_generator(tiny_generator(), tmp_path / "g.safetensors")
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["resolution"] == 32 and info["num_ws"] == 8 and len(info["blocks"]) == 4
    assert main(["sample", str(path), "--seed", "3", "-o", str(tmp_path / "one.png")]) == 0
    assert (tmp_path / "one.png").is_file()
    assert main(["sample", str(path), "--seeds", "0-4", "-o", str(tmp_path / "many.npz")]) == 0
    import numpy as np

    arr = np.load(tmp_path / "many.npz")["images"]
    assert arr.shape == (5, 32, 32, 3) and arr.dtype == np.uint8
    assert main(["sample", str(path), "--seeds", "0,2", "--mix-seed", "9", "--psi", "1",
                 "-o", str(tmp_path / "dir")]) == 0
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["seed00000.png", "seed00002.png"]


def test_config_asking_for_huge_layers_is_refused_before_allocating(tmp_path):
    """Built as the config says, conv1 would be 65536 x 65536 x 63 x 63 floats (66 PB)."""
    from safetensors.torch import save_file

    G = tiny_generator()
    config = G.config.to_dict()
    config["synthesis"].update(channel_base=2**20, channel_max=2**16, kernel_size=63)
    save_file(G.state_dict(), str(tmp_path / "g.safetensors"), metadata={"generator_config": json.dumps(config)})
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_generator(tmp_path / "g.safetensors")


@pytest.mark.parametrize("dtype,reason", [(torch.int32, "torch.int32 values, not floating point"),
                                          (torch.complex64, "torch.complex64 values"), (None, "NaN or infinite")])
def test_weights_that_are_not_finite_floats_are_refused(tmp_path, dtype, reason):
    G = tiny_generator()
    state = dict(G.state_dict())
    name = "synthesis.b8.conv0.weight"
    nan = state[name].clone().index_fill_(0, torch.tensor([1]), float("nan"))
    state[name] = state[name].to(dtype) if dtype else nan
    torch.save({"config": G.config.to_dict(), "state_dict": state}, tmp_path / "g.pt")
    with pytest.raises(CheckpointError, match=f"{name} holds {reason}"):
        load_generator(tmp_path / "g.pt")


def test_messages_are_one_printable_line_whatever_the_file_holds(tmp_path, capsys):
    from safetensors.torch import save_file

    G = tiny_generator()
    state = {**G.state_dict(), "evil\n\x1b[2Jname" + "x" * 5000: torch.zeros(1)}
    save_file(state, str(tmp_path / "g.safetensors"), metadata={"generator_config": json.dumps(G.config.to_dict())})
    assert main(["info", str(tmp_path / "g.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err[:-1].isprintable() and "evil\\n\\x1b[2Jname" in err and len(err) < 600


def _rewritten_zip(path, edit):
    """The zip at `path` written again with `edit(info)` applied to every entry's ZipInfo."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(edit(info), src.read(info))
    path.write_bytes(out.getvalue())


def _torch_file(tmp_path):
    G = tiny_generator()
    torch.save({"config": G.config.to_dict(), "state_dict": G.state_dict()}, tmp_path / "g.pt")
    return G, tmp_path / "g.pt"


def test_torch_zip_with_a_flipped_weight_byte_is_refused(tmp_path):
    """torch.load checks no CRC: without the check this loaded a silently different weight."""
    G, path = _torch_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[data.find(G.state_dict()["mapping.fc0.weight"].numpy().tobytes()) + 5] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt torch checkpoint .*Bad CRC-32"):
        load_generator(path)


def test_torch_zip_entry_marked_as_a_directory_loads_its_data(tmp_path):
    """torch's zip reader reads an entry whose attributes carry the DOS directory bit as empty."""
    G, path = _torch_file(tmp_path)

    def directory_bit(info):
        info.external_attr |= 0x10
        return info

    _rewritten_zip(path, directory_bit)
    loaded = load_generator(path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in G.state_dict().items())


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_torch_zip_with_two_entries_of_one_name_is_refused(tmp_path):
    G, path = _torch_file(tmp_path)

    def rename(info):
        if info.filename.endswith("/data/0"):
            info.filename = info.filename[:-1] + "1"
        return info

    _rewritten_zip(path, rename)
    with pytest.raises(CheckpointError, match="two zip entries share a name"):
        load_generator(path)


def test_float8_weights_load(tmp_path):
    """torch.isfinite has no float8 kernel: the finiteness check crashed on such files."""
    G = tiny_generator()
    state = {k: v.to(torch.float8_e4m3fn) for k, v in G.state_dict().items()}
    torch.save({"config": G.config.to_dict(), "state_dict": state}, tmp_path / "g.pt")
    loaded = load_generator(tmp_path / "g.pt")
    assert torch.equal(loaded.state_dict()["mapping.fc0.weight"], state["mapping.fc0.weight"].float())
