"""NVIDIA network pickles: the genuine official file loads bit-exactly, and no pickle runs code.

Hostile pickles are written here in the official persistence format. Where plain `pickle.loads`
would run their payload, the test shows that first, so a passing refusal is not a vacuous one.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import re
import subprocess
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from assistant.cli import main
from stylegan2 import CheckpointError, Generator, GeneratorConfig, load_generator
from stylegan2.nvidia_pickle import read_network_pickle
from tests.conftest import FIXTURES, SHARED, variant_generator
from tests.hostile_pickles import deep_list, substituted
from tests.official_pickle import Call, network_pickle_bytes, write_network_pickle

PICKLE_DIR = SHARED / "fixtures" / "nvidia_pickle_small"
GENUINE = PICKLE_DIR / "network-snapshot.pkl"
needs_genuine = pytest.mark.skipif(not GENUINE.is_file(), reason=f"{GENUINE} is not present")


@pytest.fixture()
def fake_global(monkeypatch):
    """Make `module.name` importable as a dummy function, so pickles that name NVIDIA's globals
    can be written without NVIDIA's code (writing only references them, never calls them)."""

    def make(module_name: str, name: str):
        def dummy(*args):
            raise AssertionError("only referenced, never called")

        dummy.__module__, dummy.__qualname__ = module_name, name
        parts = module_name.split(".")
        for i in range(1, len(parts) + 1):
            package = ".".join(parts[:i])
            if package not in sys.modules:
                monkeypatch.setitem(sys.modules, package, types.ModuleType(package))
            if i > 1:
                monkeypatch.setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], sys.modules[package],
                                    raising=False)
        monkeypatch.setattr(sys.modules[module_name], name, dummy, raising=False)
        return dummy

    return make


@pytest.fixture()
def reconstruct(fake_global):
    return fake_global("torch_utils.persistence", "_reconstruct_persistent_obj")


def network(reconstruct, class_name, params=(), buffers=(), modules=(), module_src="", **attrs):
    """A module as an older torch wrote it: OrderedDicts, no hook dicts."""
    state = {"training": False, "_parameters": OrderedDict(params), "_buffers": OrderedDict(buffers),
             "_modules": OrderedDict(modules), **attrs}
    meta = {"type": "class", "version": 6, "module_src": module_src, "class_name": class_name, "state": state}
    return Call(reconstruct, meta)


def param(t: torch.Tensor) -> torch.nn.Parameter:
    return torch.nn.Parameter(t, requires_grad=False)


def legacy_storage_stream(payload) -> bytes:
    """torch.save's legacy stream with `payload` where the storage's persistent-id pickle goes
    (protocol 2, as torch writes it, spells builtins `__builtin__`)."""
    return b"".join(pickle.dumps(part, protocol=2) for part in
                    (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, payload, []))


def storage_stream(values: np.ndarray, storage_type, little_endian: bool = True) -> bytes:
    """A legacy torch.save stream of one storage, written from the format description (not by
    torch), so the reader is checked against the format rather than against torch's writer."""
    marker = object()

    class StoragePickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", storage_type, "k0", "cpu", values.size, None) if obj is marker else None

    body = io.BytesIO()
    StoragePickler(body, protocol=2).dump(marker)
    order = "<" if little_endian else ">"
    head = [pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": little_endian})]
    count = np.array(values.size, dtype=order + "i8").tobytes()
    data = values.astype(values.dtype.newbyteorder(order)).tobytes()
    return b"".join([*head, body.getvalue(), pickle.dumps(["k0"], protocol=2), count, data])


def write(tmp_path, obj, name="net.pkl", protocol=4):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


# --- the genuine official pickle -------------------------------------------------------------

@needs_genuine
def test_genuine_pickle_matches_expected_tensors_and_kwargs():
    kwargs, state = read_network_pickle(GENUINE)
    expected = load_file(str(PICKLE_DIR / "expected.safetensors"))
    meta = json.loads((PICKLE_DIR / "expected.json").read_text())
    assert kwargs == meta["G_ema"]["init_kwargs"]
    assert list(state) == meta["G_ema"]["state_dict_keys"]
    for name, tensor in expected.items():
        assert state[name].dtype == torch.float32 and torch.equal(state[name], tensor), name


@needs_genuine
def test_genuine_pickle_renders_the_official_image(parity_cases):
    G = load_generator(GENUINE)
    with torch.no_grad():
        ws = G.mapping(parity_cases["seed_0.z"], None, truncation_psi=0.7)
        img = G.synthesis(ws, noise_mode="const")
    assert (ws - parity_cases["seed_0.ws"]).abs().max() < 1e-5
    assert (img - parity_cases["seed_0.img"]).abs().max() < 1e-4


@needs_genuine
def test_genuine_pickle_discriminator():
    kwargs, state = read_network_pickle(GENUINE, network="D")
    assert kwargs == json.loads((PICKLE_DIR / "expected.json").read_text())["D"]["init_kwargs"]
    assert state["b256.fromrgb.weight"].shape == (8, 3, 1, 1)
    assert state["b4.fc.weight"].shape == (64, 1024) and state["b4.out.weight"].shape == (1, 64)
    assert not any(name.startswith(("mapping.", "synthesis.")) for name in state)


@needs_genuine
def test_cli_info_reads_genuine_pickle(capsys):
    assert main(["info", str(GENUINE)]) == 0
    out = capsys.readouterr().out
    assert "resolution 256x256" in out and "num_ws 14" in out


@needs_genuine
@pytest.mark.parametrize("cut", [1, 2, 60, 30_000, 46_000, 3_000_000, -1])
def test_truncated_genuine_pickle(tmp_path, cut):
    data = GENUINE.read_bytes()
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_network_pickle(path)


# --- hostile pickles -------------------------------------------------------------------------

def run_marker(marker) -> str:
    return f"open({str(marker)!r}, 'w').close()"


@pytest.mark.parametrize("make_payload,global_name", [
    (lambda m: Call(exec, run_marker(m)), "builtins.exec"),
    (lambda m: Call(os.system, f"touch {m}"), f"{os.system.__module__}.system"),
    (lambda m: Call(subprocess.call, ["touch", str(m)]), "subprocess.call"),
])
def test_forbidden_global_is_refused_before_it_runs(tmp_path, reconstruct, make_payload, global_name):
    marker = tmp_path / "marker"
    at_top = write(tmp_path, {"G_ema": make_payload(marker)}, "top.pkl")
    nested = write(tmp_path, {"G_ema": network(reconstruct, "Generator", params={"w": make_payload(marker)})})
    pickle.loads(at_top.read_bytes())
    assert marker.exists(), "the payload is real: plain pickle runs it"
    marker.unlink()
    for path in (at_top, nested):
        with pytest.raises(CheckpointError, match=f"refused global '{global_name}' in {path.name}: .*holds code"):
            read_network_pickle(path)
    assert not marker.exists()


def test_forbidden_global_inside_storage_bytes_is_refused(tmp_path, reconstruct):
    marker = tmp_path / "marker"
    stream = legacy_storage_stream(Call(exec, run_marker(marker)))
    storage = Call(torch.storage._load_from_bytes, stream)
    tensor = Call(torch._utils._rebuild_tensor_v2, storage, 0, (1,), (1,), False, OrderedDict())
    path = write(tmp_path, {"G_ema": network(reconstruct, "Generator", buffers={"b": tensor})})
    with contextlib.suppress(Exception):
        pickle.loads(path.read_bytes())
    assert marker.exists(), "the payload is real: plain pickle runs it"
    marker.unlink()
    refusal = r"refused global '__builtin__.exec' in net.pkl \(inside a tensor storage\): .*holds code"
    with pytest.raises(CheckpointError, match=refusal):
        read_network_pickle(path)
    assert not marker.exists()


def test_module_src_is_never_executed(tmp_path, reconstruct):
    marker = tmp_path / "marker"
    weight = torch.randn(3, 4)
    src = f"{run_marker(marker)}\nclass Generator:\n    pass\n"
    path = write(tmp_path, {"G_ema": network(reconstruct, "Generator", params={"weight": param(weight)},
                                             module_src=src)})
    _, state = read_network_pickle(path)
    assert torch.equal(state["weight"], weight)
    assert not marker.exists()


# --- format coverage and malformed files ------------------------------------------------------

@pytest.mark.parametrize("protocol", [3, 4])  # 3: Python 3.7, as stylegan2-ada wrote its pickles
def test_storage_types_positional_args_and_numpy_scalars(tmp_path, reconstruct, protocol):
    buffers = {"half": torch.randn(5).half(), "double": torch.randn(2, 3, dtype=torch.float64),
               "bf16": torch.randn(4).bfloat16(), "long": torch.arange(6).view(2, 3).t(),
               "int": torch.arange(3, dtype=torch.int32), "byte": torch.arange(4, dtype=torch.uint8),
               "bool": torch.tensor([True, False, True]), "gone": torch.ones(2), "absent": None}
    child = network(reconstruct, "FullyConnectedLayer", params={"weight": param(torch.randn(2, 2)), "bias": None},
                    weight_gain=np.float64(0.25), act_gain=np.float32(1.5))
    root = network(reconstruct, "Generator", buffers=buffers, modules={"fc0": child, "none": None},
                   _non_persistent_buffers_set={"gone"}, _init_args=(64, 0, 64, 32, 3),
                   _init_kwargs={"mapping_kwargs": {"num_layers": 2}, "synthesis_kwargs": {}})
    kwargs, state = read_network_pickle(write(tmp_path, {"G": root, "G_ema": root}, protocol=protocol))
    assert kwargs == {"z_dim": 64, "c_dim": 0, "w_dim": 64, "img_resolution": 32, "img_channels": 3,
                      "mapping_kwargs": {"num_layers": 2}, "synthesis_kwargs": {}}
    assert list(state) == ["half", "double", "bf16", "long", "int", "byte", "bool", "fc0.weight"]
    for name in ("half", "double", "bf16"):
        assert state[name].dtype == torch.float32 and torch.equal(state[name], buffers[name].float())
    for name in ("long", "int", "byte", "bool"):
        assert state[name].dtype == buffers[name].dtype and torch.equal(state[name], buffers[name])


@pytest.mark.parametrize("size,stride", [((1000,), (1,)), ((10**6, 10**6), (0, 0)), ((2, 2), (4, 1))])
def test_tensor_outside_its_storage_is_refused(tmp_path, reconstruct, size, stride):
    storage = torch.zeros(4)._typed_storage()
    tensor = Call(torch._utils._rebuild_tensor_v2, storage, 0, size, stride, False, OrderedDict())
    path = write(tmp_path, {"G_ema": network(reconstruct, "Generator", buffers={"b": tensor})})
    with pytest.raises(CheckpointError, match="does not fit its storage"):
        read_network_pickle(path)


def test_missing_empty_and_random_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        read_network_pickle(tmp_path / "nothing.pkl")
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty file"):
        read_network_pickle(tmp_path / "empty.pkl")
    rng = np.random.default_rng(0)
    for i, head in enumerate((b"", b"\x80\x04\x95")):
        path = tmp_path / f"random{i}.pkl"
        path.write_bytes(head + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
        with pytest.raises(CheckpointError, match="truncated or corrupt|refused global"):
            read_network_pickle(path)


def test_pickles_that_hold_no_network(tmp_path, reconstruct):
    with pytest.raises(CheckpointError, match="not an NVIDIA network pickle .*list"):
        read_network_pickle(write(tmp_path, [1, 2, 3]))
    with pytest.raises(CheckpointError, match="not an NVIDIA network pickle .*dict"):
        read_network_pickle(write(tmp_path, {"G_ema": {"weight": 1}}))
    only_d = write(tmp_path, {"D": network(reconstruct, "Discriminator"), "G_ema": None})
    with pytest.raises(CheckpointError, match=r"no network 'G_ema' in this pickle \(it has: D\)"):
        read_network_pickle(only_d)


def test_config_accepts_kwargs_of_tf_converted_pickles():
    """NVIDIA's legacy.py (which made DragGAN's lions pickle) records the synthesis settings of
    the TensorFlow network, nested (stylegan2-ada) or flattened (stylegan3)."""
    fixed = {"resample_filter": [1, 3, 3, 1], "use_noise": True, "activation": "lrelu", "architecture": "skip"}
    base = {"z_dim": 64, "w_dim": 64, "img_resolution": 32, "mapping_kwargs": {"num_layers": 2}}
    nested = GeneratorConfig.from_dict({**base, "synthesis_kwargs": {"channel_base": 512, **fixed}})
    flat = GeneratorConfig.from_dict({**base, "channel_base": 512, **fixed})
    assert nested == flat and nested.synthesis.channel_base == 512
    assert nested.synthesis == GeneratorConfig.from_dict({**base, "channel_base": 512}).synthesis
    assert not GeneratorConfig.from_dict({**base, **fixed, "use_noise": False}).synthesis.use_noise


# --- every constructor setting of the official codebases --------------------------------------

@pytest.mark.parametrize("name", json.loads((FIXTURES / "official_variants.json").read_text()))
def test_pickle_in_each_official_layout_renders_the_official_image(tmp_path, official_variants, name):
    """stylegan3's flat kwargs (with fused_modconv_default), stylegan2-ada's nested ones, either
    codebase's conv_clamp default, and the settings that change the arithmetic, each written as
    that codebase's pickle would hold them (protocol 3 for stylegan2-ada's Python 3.7)."""
    meta, t = official_variants
    kwargs = meta[name]["init_kwargs"]
    protocol = 3 if meta[name]["codebase"] == "ada" else 4
    path = write_network_pickle(tmp_path / "net.pkl", variant_generator(official_variants, name), kwargs, protocol)
    G = load_generator(path)
    c = t[f"{name}.c"] if G.c_dim else None
    with torch.no_grad():
        ws = G.mapping(t[f"{name}.z"], c, truncation_psi=0.7)
        img = G.synthesis(ws, noise_mode="const")
    scale = t[f"{name}.img"].abs().max().item()
    torch.testing.assert_close(img, t[f"{name}.img"], atol=1e-4 + 1e-6 * scale, rtol=0)


def test_conv_clamp_left_at_the_default_is_read_from_the_modules(tmp_path, official_variants):
    """stylegan2-ada does not clamp by default, stylegan3 and DragGAN clamp at 256: the kwargs do
    not say which, the recorded layers do."""
    for name, recorded in (("ada_nested_defaults", None), ("sg3_flat_defaults", 256)):
        kwargs = official_variants[0][name]["init_kwargs"]
        path = write_network_pickle(tmp_path / f"{name}.pkl", variant_generator(official_variants, name), kwargs)
        assert load_generator(path).config.synthesis.conv_clamp == recorded


STYLEGAN3_SNAPSHOT_KWARGS = {"z_dim": 16, "w_dim": 16, "mapping_kwargs": {"num_layers": 2}, "channel_base": 128,
                             "channel_max": 16, "fused_modconv_default": "inference_only", "c_dim": 0,
                             "img_resolution": 16, "img_channels": 3}


def test_cli_reads_a_stylegan3_codebase_snapshot(tmp_path, capsys):
    """What stylegan3's train.py --cfg=stylegan2 records (the issue's refused pickle)."""
    G = Generator(GeneratorConfig.from_dict(STYLEGAN3_SNAPSHOT_KWARGS))
    path = write_network_pickle(tmp_path / "network-snapshot-000000.pkl", G, STYLEGAN3_SNAPSHOT_KWARGS)
    assert main(["info", str(path)]) == 0
    assert "resolution 16x16" in capsys.readouterr().out


@pytest.mark.parametrize("setting", [{"fused_modconv_default": True}, {"fused_modconv_default": False},
                                     {"fused_modconv_default": "inference_only"}, {"fp16_channels_last": True},
                                     {"channels_last": True}, {"num_fp16_res": 0}, {"num_fp16_res": 7},
                                     {"resize": None}])
@pytest.mark.parametrize("layout", ["flat", "nested"])
def test_settings_that_change_no_arithmetic_are_accepted(setting, layout):
    base = {"z_dim": 16, "w_dim": 16, "img_resolution": 16, "mapping_kwargs": {"num_layers": 2}}
    synthesis = {"channel_base": 128, "channel_max": 16}
    plain = GeneratorConfig.from_dict({**base, "synthesis_kwargs": synthesis})
    top = {"resize"} & set(setting)
    if layout == "flat" or top:
        config = GeneratorConfig.from_dict({**base, **synthesis, **setting})
    else:
        config = GeneratorConfig.from_dict({**base, "synthesis_kwargs": {**synthesis, **setting}})
    expected = {**plain.synthesis.to_dict(), **{k: v for k, v in setting.items() if k == "num_fp16_res"}}
    assert config.synthesis.to_dict() == expected and config.mapping == plain.mapping


def test_draggan_ignores_flat_synthesis_kwargs_beside_nested_ones():
    """DragGAN's Generator builds from `synthesis_kwargs` when it is non-empty, ignoring the rest."""
    config = GeneratorConfig.from_dict({"img_resolution": 16, "synthesis_kwargs": {"channel_base": 128},
                                        "channel_base": 4096, "conv_clamp": None})
    assert config.synthesis.channel_base == 128 and config.synthesis.conv_clamp == 256


@pytest.mark.parametrize("kwargs,named", [
    ({"resize": 256}, "resize=256"),
    ({"magnitude_ema_beta": 0.99, "conv_kernel": 1}, "unsupported generator setting(s): conv_kernel, magnitude_ema"),
    ({"synthesis_kwargs": {"channel_base": 128, "use_radial_filters": True}}, "synthesis setting(s): use_radial"),
    ({"mapping_kwargs": {"num_layers": 2, "bogus": 1}}, "unsupported mapping setting(s): bogus"),
    ({"kernel_size": 4}, "kernel_size must be odd"),
    ({"architecture": "unet"}, "architecture must be one of orig, resnet, skip, got 'unet'"),
    ({"activation": "gelu"}, "activation must be one of"),
    ({"resample_filter": [1, -1]}, "resample_filter must be taps with a non-zero sum"),
    ({"conv_clamp": -1}, "conv_clamp must be a number >= 0"),
    ({"z_dim": "512"}, "z_dim must be an integer"),
    ({"mapping_kwargs": [2]}, "mapping settings must be an object"),
])
def test_settings_that_cannot_be_reproduced_are_refused_in_one_line(tmp_path, capsys, kwargs, named):
    G = Generator(GeneratorConfig.from_dict(STYLEGAN3_SNAPSHOT_KWARGS))
    path = write_network_pickle(tmp_path / "net.pkl", G, {**STYLEGAN3_SNAPSHOT_KWARGS, **kwargs})
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and err.count("\n") == 1 and named in err


class CallWithState(Call):
    """Pickles as `fn(*args)` followed by BUILD with `state`."""

    def __init__(self, fn, args, state):
        super().__init__(fn, *args)
        self.state = state

    def __reduce__(self):
        return self.fn, self.args, self.state


@pytest.mark.parametrize("numel", [0, 4])
def test_build_cannot_grow_a_tensor(tmp_path, reconstruct, numel):
    """`Tensor.__setstate__` would `set_` a tensor to any size; the storages must refuse to grow."""
    source = torch.zeros(numel)
    grow = CallWithState(torch._utils._rebuild_tensor_v2, (source._typed_storage(), 0, (numel,), (1,), False,
                                                           OrderedDict()), (source, 0, (10**4, 10**4), (1, 1)))
    path = write(tmp_path, {"G_ema": network(reconstruct, "Generator", buffers={"b": grow})})
    with pytest.raises(CheckpointError, match="not resizable"):
        read_network_pickle(path)


@pytest.mark.parametrize("little_endian", [True, False])
@pytest.mark.parametrize("storage_type,values", [
    (torch.FloatStorage, np.array([1.5, -2.0, 3.25], np.float32)),
    (torch.HalfStorage, np.array([0.5, 7.0], np.float16)),
    (torch.LongStorage, np.array([1, -2, 2**40], np.int64)),
])
def test_storage_stream_from_the_format_description(tmp_path, reconstruct, little_endian, storage_type, values):
    storage = Call(torch.storage._load_from_bytes, storage_stream(values, storage_type, little_endian))
    tensor = Call(torch._utils._rebuild_tensor_v2, storage, 0, (values.size,), (1,), False, OrderedDict())
    _, state = read_network_pickle(write(tmp_path, {"G_ema": network(reconstruct, "Generator", buffers={"b": tensor})}))
    expected = torch.from_numpy(values.astype(values.dtype.newbyteorder("=")))
    assert torch.equal(state["b"], expected.float() if expected.is_floating_point() else expected)


def test_refusals_of_known_unsupported_files_say_what_they_are(tmp_path, reconstruct, fake_global):
    tf_network = fake_global("dnnlib.tflib.network", "Network")
    with pytest.raises(CheckpointError, match="refused global 'dnnlib.tflib.network.Network' .*TensorFlow"):
        read_network_pickle(write(tmp_path, {"G_ema": Call(tf_network, {"build_module_src": "import os"})}))
    stylegan3_layer = network(reconstruct, "SynthesisLayer", in_size=np.array([36, 36]))
    with pytest.raises(CheckpointError, match=r"refused global 'numpy\.(_)?core\.multiarray\._reconstruct' .*GAN3"):
        read_network_pickle(write(tmp_path, {"G_ema": stylegan3_layer}))


# --- what the checkpoint fuzzer found (tests/test_checkpoint_fuzz.py) ---------------------------

def test_a_corrupt_memo_index_allocates_nothing(tmp_path):
    """The C unpickler sizes its memo array by the largest PUT index in the file: 2**24 here
    (a flipped byte) cost it 256 MB; up to 2**32 can be written."""
    import tracemalloc

    path = tmp_path / "memo.pkl"
    path.write_bytes(b"\x80\x04}r\x00\x00\x00\x01.")  # EMPTY_DICT, LONG_BINPUT 2**24, STOP
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="not an NVIDIA network pickle"):
            read_network_pickle(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


def test_modules_nested_past_the_stack_are_refused(tmp_path, reconstruct):
    leaf = network(reconstruct, "FullyConnectedLayer", params={"weight": param(torch.ones(1))})
    for _ in range(1500):
        leaf = network(reconstruct, "Module", modules={"m": leaf})
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # for pickle.dumps of the chain; reading must not need it
    try:
        path = write(tmp_path, {"G_ema": network(reconstruct, "Generator", modules={"m": leaf})})
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(CheckpointError, match="nested deeper than 32 levels"):
        read_network_pickle(path)


def test_parameter_names_that_are_not_strings_are_refused(tmp_path, reconstruct):
    path = write(tmp_path, {"G_ema": network(reconstruct, "Generator", params={1: param(torch.ones(1))})})
    with pytest.raises(CheckpointError, match="is not a torch module"):
        read_network_pickle(path)


@pytest.mark.parametrize("value,shown", [("deep", r"\[\[\[\[\.\.\.\]\]\]\]"), ("huge", "an integer of 16610 bits")])
def test_kwargs_values_past_recursion_and_digit_limits_are_named_briefly(tmp_path, capsys, value, shown):
    """repr() of such values raises RecursionError or ValueError; messages quote them safely."""
    G = Generator(GeneratorConfig.from_dict(STYLEGAN3_SNAPSHOT_KWARGS))
    num_layers = "\0here\0" if value == "deep" else 10**5000
    kwargs = {**STYLEGAN3_SNAPSHOT_KWARGS, "mapping_kwargs": {"num_layers": num_layers}}
    path = write_network_pickle(tmp_path / "net.pkl", G, kwargs, protocol=3)
    if value == "deep":
        path.write_bytes(substituted(path.read_bytes(), "\0here\0", deep_list(5000)))
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(f"num_layers must be an integer in 1..64, got <?{shown}", err)


def test_tensors_that_overlap_in_memory_are_refused(tmp_path):
    """A corrupt stride that stays inside its storage would load a silently different weight."""
    G = Generator(GeneratorConfig.from_dict(STYLEGAN3_SNAPSHOT_KWARGS))
    overlapping = Call(torch._utils._rebuild_tensor_v2, torch.randn(256)._typed_storage(), 0, (16, 16), (1, 0),
                       False, OrderedDict())
    path = tmp_path / "net.pkl"
    path.write_bytes(network_pickle_bytes(G, STYLEGAN3_SNAPSHOT_KWARGS, replace={"mapping.fc0.weight": overlapping}))
    with pytest.raises(CheckpointError, match="mapping.fc0.weight holds elements that overlap in memory"):
        load_generator(path)
