"""Malformed weight files, property-based: adapters.load_weights returns exactly what a
valid file holds, and refuses anything else with a ValueError naming the file; it never
unpickles, never fails from inside numpy or zipfile (a header claiming terabytes included).
save_weights refuses bad weights or a bad path before writing anything.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import adapters
from scratch import init_weights

W = init_weights(3, 5, 4, rng=np.random.RandomState(0))
W["b1"] = W["b1"] + 0.5  # no all-zero array: a bit flip anywhere shows
FAST = settings(max_examples=60, deadline=None)


def npz_bytes(arrays: dict, compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def huge_header() -> bytes:
    """A W1.npy whose header claims 10**12 float64s (8 TB) and holds 16 bytes."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + b"\0" * 16


VALID = npz_bytes(W)


@st.composite
def malformed(draw):
    """(file bytes, valid)."""
    kind = draw(
        st.sampled_from(
            [
                "valid",
                "valid compressed",
                "random bytes",
                "truncated",
                "bit flips",
                "members",
                "pickled",
                "npy not npz",
                "foreign members",
                "huge header",
            ]
        )
    )
    if kind == "valid":
        return VALID, True
    if kind == "valid compressed":
        return npz_bytes(W, compressed=True), True
    if kind == "random bytes":
        return draw(st.binary(max_size=600)), False
    if kind == "truncated":
        data = draw(st.sampled_from([VALID, npz_bytes(W, compressed=True)]))
        return data[: draw(st.integers(0, len(data) - 1))], False
    if kind == "bit flips":  # may still be a valid file holding other finite numbers
        data = bytearray(draw(st.sampled_from([VALID, npz_bytes(W, compressed=True)])))
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(data), None
    if kind == "members":
        arrays = {}
        for k, v in W.items():
            change = draw(st.sampled_from(["keep", "keep", "drop", "shape", "dtype", "nan"]))
            if change == "keep":
                arrays[k] = v
            elif change == "shape":
                arrays[k] = np.ones(draw(st.sampled_from([(), (2,), (3, 5, 1), (5, 3)])))
            elif change == "dtype":
                arrays[k] = v.astype(draw(st.sampled_from([np.complex128, np.bool_, "U2"])))
            elif change == "nan":
                arrays[k] = np.full_like(v, np.nan)
        for extra in draw(st.sets(st.sampled_from(["W3", "w1", "meta"]), max_size=2)):
            arrays[extra] = np.zeros(2)
        return npz_bytes(arrays), all(k in arrays and arrays[k] is W[k] for k in W) and set(
            arrays
        ) == set(W)
    if kind == "pickled":
        key = draw(st.sampled_from(sorted(W)))
        evil = np.empty(W[key].shape, dtype=object)
        evil[...] = draw(st.sampled_from([None, {"a": 1}, "x"]))
        return npz_bytes({**W, key: evil}), False
    if kind == "npy not npz":
        return npy_bytes(W["W1"]), False
    if kind == "foreign members":
        members = {f"{k}.npy": npy_bytes(v) for k, v in W.items()}
        key = draw(st.sampled_from(sorted(W)))
        odd = draw(st.sampled_from(["garbage", "no suffix", "in a folder", "text"]))
        if odd == "garbage":
            members[f"{key}.npy"] = draw(st.binary(max_size=100))
        elif odd == "no suffix":
            members[key] = members.pop(f"{key}.npy")
        elif odd == "in a folder":
            members[f"dir/{key}.npy"] = members.pop(f"{key}.npy")
        else:
            members["README.txt"] = b"not an array"
        # numpy reads a member "W1" holding an .npy like "W1.npy": that file may load
        return zip_of(members), None if odd == "no suffix" else False
    members = {f"{k}.npy": npy_bytes(v) for k, v in W.items()}
    members[f"{draw(st.sampled_from(sorted(W)))}.npy"] = huge_header()
    return zip_of(members), False


@FAST
@given(case=malformed())
def test_load_weights_returns_a_valid_file_and_refuses_the_rest(case):
    data, valid = case
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "weights.npz"
        path.write_bytes(data)
        try:
            loaded = adapters.load_weights(path)
        except ValueError as error:
            assert valid is not True, f"a valid file was refused: {error}"
            assert str(path) in str(error), error
            return
    assert valid is not False, "a malformed file was loaded"
    assert set(loaded) == set(W)
    for k, v in loaded.items():
        assert v.shape == W[k].shape and np.all(np.isfinite(v))
        if valid:
            np.testing.assert_array_equal(v, W[k])


@pytest.mark.parametrize(
    "path, words",
    [
        ("missing.npz", "does not exist"),
        (".", "is a directory, not an .npz file"),
        (None, "path"),
        (3, "path"),
        ("bad\0name.npz", "null byte"),
    ],
)
def test_load_weights_refuses_paths_that_are_not_files(tmp_path, path, words):
    target = tmp_path / path if isinstance(path, str) and "\0" not in path else path
    with pytest.raises((ValueError, TypeError), match=words):
        adapters.load_weights(target)


@settings(max_examples=30, deadline=None)
@given(
    change=st.sampled_from(["suffix", "nan", "dtype", "missing", "shape", "path type", "dir"]),
)
def test_save_weights_refuses_before_writing_anything(change):
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        path, weights = folder / "w.npz", dict(W)
        if change == "suffix":
            path = folder / "w.npy"
        elif change == "nan":
            weights["b2"] = np.array([np.nan, 0, 0, 0])
        elif change == "dtype":
            weights["W2"] = W["W2"].astype(np.complex128)
        elif change == "missing":
            del weights["b1"]
        elif change == "shape":
            weights["W2"] = W["W2"].T
        elif change == "path type":
            path = None
        else:
            path = folder / "w.npz"
            path.mkdir()  # a directory in the way: the rename fails
        with pytest.raises((ValueError, TypeError, OSError)):
            adapters.save_weights(path, weights)
        left = sorted(p.name for p in folder.iterdir())
        assert left == (["w.npz"] if change == "dir" else []), left
        if change == "dir":
            assert (folder / "w.npz").is_dir() and not any((folder / "w.npz").iterdir())


def test_save_weights_writes_exactly_what_load_weights_reads(tmp_path):
    path = adapters.save_weights(tmp_path / "w.npz", W)
    assert os.listdir(tmp_path) == ["w.npz"]
    for k, v in adapters.load_weights(path).items():
        np.testing.assert_array_equal(v, W[k])


# --------------------------------------------------------------------------- fixed cases


def with_central_flag(data: bytes, member: int, bit: int) -> bytes:
    """`data` with a general-purpose flag set on one entry of the zip's central directory."""
    out, at = bytearray(data), -1
    for _ in range(member + 1):
        at = out.index(b"PK\x01\x02", at + 1)
    out[at + 8] |= bit
    return bytes(out)


def with_extract_version(data: bytes, version: int) -> bytes:
    out = bytearray(data)
    at = out.index(b"PK\x01\x02")
    out[at + 6] = version  # "version needed to extract", 10 * major + minor
    return bytes(out)


@pytest.mark.parametrize(
    "data, words",
    [
        (with_central_flag(VALID, 3, 0x1), "encrypted"),  # was RuntimeError from zipfile
        (with_extract_version(VALID, 109), "zip file version"),  # was NotImplementedError
        (zip_of({f"{k}.npy": huge_header() for k in W}), "not a valid .npz"),  # MemoryError
    ],
    ids=["encrypted member", "zip version 10.9", "header claiming 8 TB"],
)
def test_fixed_archives_that_escaped_as_other_errors(tmp_path, data, words):
    path = tmp_path / "w.npz"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=words) as info:
        adapters.load_weights(path)
    assert str(path) in str(info.value)


# ------------------------------------------------------------- bombs, twins, masks


def raw_zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip written by hand: (name, deflated bytes, crc32, uncompressed size) per member,
    so that a member can declare what no test could afford to compress."""
    local, central = bytearray(), bytearray()
    for name, data, crc, size in entries:
        fields = (20, 0, 8, 0, 0x21, crc, len(data), size, len(name))  # deflated, 1980-01-01
        central += struct.pack("<4s2H", b"PK\x01\x02", 20, 20)
        central += struct.pack("<4H3I5H2I", *fields[1:], 0, 0, 0, 0, 0, len(local))
        central += name.encode()
        local += struct.pack("<4s5H3I2H", b"PK\x03\x04", *fields, 0) + name.encode() + data
    end = struct.pack(
        "<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(local), 0
    )
    return bytes(local + central + end)


def deflated(data: bytes) -> tuple[bytes, int, int]:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(), zlib.crc32(data), len(data)


def bomb_member(gib: int = 2) -> tuple[bytes, int, int]:
    """W1.npy of shape (2, gib * 2**27) float64, all zeros: `gib` GiB when decompressed,
    about gib MiB deflated. The same 1 MiB deflate block repeats (a full flush between
    blocks makes them identical); the CRC is left 0, since nothing may read that far."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2, gib * 2**27)}
    )
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(header.getvalue()) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(b"\0" * 2**20) + c.flush(zlib.Z_FULL_FLUSH)
    data = head + block * (gib * 2**10) + c.flush()
    return data, 0, len(header.getvalue()) + gib * 2**30


def test_a_zip_bomb_is_refused_from_its_headers_quickly_and_in_little_memory(tmp_path):
    """2 MiB on disk, 2 GiB decompressed: refused before anything is decompressed (this
    took 24 s and 2.3 GB before)."""
    entries = [("W1.npy", *bomb_member(2))]
    entries += [(f"{k}.npy", *deflated(npy_bytes(W[k]))) for k in ("b1", "W2", "b2")]
    path = tmp_path / "bomb.npz"
    path.write_bytes(raw_zip(entries))
    assert path.stat().st_size < 3 * 2**20
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=r"declares 2\.0 GiB.*refused unread") as info:
            adapters.load_weights(path)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert seconds < 0.5 and peak < 16 * 2**20, (seconds, peak)


def test_a_header_claiming_more_than_its_member_holds_is_refused_unread(tmp_path):
    """A small declared size, but an .npy header claiming 2 GiB: refused from the header."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2, 2**27)}
    )
    entries = [("W1.npy", *deflated(header.getvalue() + b"\0" * 64))]
    entries += [(f"{k}.npy", *deflated(npy_bytes(W[k]))) for k in ("b1", "W2", "b2")]
    path = tmp_path / "w.npz"
    path.write_bytes(raw_zip(entries))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"header claims \(2, 134217728\) float64"):
            adapters.load_weights(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


@pytest.mark.parametrize("twin", ["W1.npy", "W1"], ids=["same name", "with and without .npy"])
def test_two_members_with_one_name_are_refused_by_name(tmp_path, twin):
    """zipfile keeps the last of two same-named members and np.load took it silently."""
    entries = [(f"{k}.npy", *deflated(npy_bytes(v))) for k, v in W.items()]
    entries.append((twin, *deflated(npy_bytes(W["W1"] + 1))))
    path = tmp_path / "w.npz"
    path.write_bytes(raw_zip(entries))
    with pytest.raises(ValueError, match=r"two members named 'W1'") as info:
        adapters.load_weights(path)
    assert str(path) in str(info.value)


def test_the_hand_written_zip_is_a_valid_npz(tmp_path):
    """raw_zip itself is sound: the same members load."""
    path = tmp_path / "w.npz"
    path.write_bytes(raw_zip([(f"{k}.npy", *deflated(npy_bytes(v))) for k, v in W.items()]))
    for k, v in adapters.load_weights(path).items():
        np.testing.assert_array_equal(v, W[k])


def masked(a: np.ndarray) -> np.ma.MaskedArray:
    return np.ma.masked_array(a, mask=np.arange(a.size).reshape(a.shape) % 2 == 0)


def test_masked_weights_are_refused_by_name_when_saving(tmp_path):
    with pytest.raises(TypeError, match=r"weights\['W1'\] is a masked array \(numpy.ma\)"):
        adapters.save_weights(tmp_path / "w.npz", {**W, "W1": masked(W["W1"])})
    assert os.listdir(tmp_path) == []


@pytest.mark.crossframework
def test_masked_weights_and_inputs_are_refused_by_name_in_every_framework(framework):
    with pytest.raises(TypeError, match=r"weights\['b2'\] is a masked array"):
        adapters.build(framework, {**W, "b2": masked(W["b2"])})
    net = adapters.build(framework, W)
    x = np.random.RandomState(1).standard_normal((4, 3))
    with pytest.raises(TypeError, match=r"x is a masked array"):
        net.predict(masked(x))
