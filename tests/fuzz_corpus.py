"""Hostile and broken input files for tests/test_fuzz_files.py, written into a folder.

Each case is (case id, reader, path, options, expect). `reader` names a function of tests/fuzz_runner.py;
`expect` is "error" (a clear InputError naming the file), "not-fit" (a checkpoint report that refuses the file)
or "recovered:N" (autosave recovery still offers N good autosaves). The files are small (the point is that a
small file must not cost much); the few big ones are sparse.
"""
from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np


def _w(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# ---- checkpoints ------------------------------------------------------------------------------------------------------
P2 = b"\x80\x02"


def _g(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _u(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _b(raw: bytes) -> bytes:
    return b"C" + bytes([len(raw)]) + raw if len(raw) < 256 else b"B" + struct.pack("<I", len(raw)) + raw


def _i(v: int) -> bytes:
    return b"J" + struct.pack("<i", v) if -2**31 <= v < 2**31 else b"\x8a\x08" + struct.pack("<q", v)


def _tuple(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _storage_pid(dtype: str, key: str, numel: int) -> bytes:
    return _tuple(_u("storage"), _g("torch", dtype), _u(key), _u("cpu"), _i(numel)) + b"Q"


def _tensor(dtype: str, key: str, numel: int, offset: int, size: tuple, stride: tuple) -> bytes:
    return (_g("torch._utils", "_rebuild_tensor_v2")
            + _tuple(_storage_pid(dtype, key, numel), _i(offset), _tuple(*map(_i, size)), _tuple(*map(_i, stride)),
                     b"\x89", _g("collections", "OrderedDict") + b")R") + b"R")


def _net(tensor_pickle: bytes, key: str = "matcher.bin_score") -> bytes:
    """{'net': {key: <tensor>}} as protocol-2 pickle bytes."""
    return P2 + b"}" + _u("net") + b"}" + _u(key) + tensor_pickle + b"s" + b"s."


def zip_checkpoint(path: Path, pkl: bytes, records: dict[str, bytes] | None = None, byteorder: bytes = b"little",
                   compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", kind) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", byteorder)
        for key, data in (records or {}).items():
            z.writestr(f"archive/data/{key}", data)
        z.writestr("archive/version", b"3\n")
    return path


def _numpy_dtype(name: str, state: bytes) -> bytes:
    return _g("numpy", "dtype") + _tuple(_u(name), b"\x89", b"\x88") + b"R" + state + b"b"


def checkpoint_cases(folder: Path) -> list[tuple]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []

    def case(name, path, expect="error"):
        out.append((f"ckpt-{name}", "checkpoint", str(path), {}, expect))

    # numpy: an object dtype with its flags reset, then a scalar read from 8 bytes of the file (a pointer)
    evil_dtype = _numpy_dtype("O8", _tuple(_i(3), _u("|"), b"N", b"N", b"N", _i(-1), _i(-1), _i(0)))
    scalar = _g("numpy.core.multiarray", "scalar") + _tuple(evil_dtype, _b(b"\x41" * 8)) + b"R"
    case("numpy-object-scalar-pointer", _w(folder / "np_pointer.pth.tar", P2 + scalar + b"."))
    case("numpy-object-scalar-zip", zip_checkpoint(folder / "np_pointer_zip.pth.tar",
                                                   P2 + b"}" + _u("net") + scalar + b"s."))
    flagged = _numpy_dtype("f8", _tuple(_i(3), _u("<"), b"N", b"N", b"N", _i(-1), _i(-1), _i(63)))
    case("numpy-dtype-flags", zip_checkpoint(folder / "np_flags.pth.tar", P2 + _g("numpy.core.multiarray", "scalar")
                                             + _tuple(flagged, _b(b"\0" * 8)) + b"R."))
    plain = _numpy_dtype("f8", _tuple(_i(3), _u("<"), b"N", b"N", b"N", _i(-1), _i(-1), _i(0)))
    case("numpy-scalar-short-bytes", zip_checkpoint(folder / "np_short.pth.tar", P2 + _g("numpy.core.multiarray",
                                                    "scalar") + _tuple(plain, _b(b"\0" * 3)) + b"R."))
    arr = (_g("numpy.core.multiarray", "_reconstruct") + _tuple(_g("numpy", "ndarray"), _tuple(_i(0)), _b(b"b"))
           + b"R" + _tuple(_i(1), _tuple(_i(1000000)), plain, b"\x89", _b(b"\0" * 16)) + b"b")
    case("numpy-array-claims-more", zip_checkpoint(folder / "np_array.pth.tar", P2 + arr + b"."))
    obj_arr = (_g("numpy.core.multiarray", "_reconstruct") + _tuple(_g("numpy", "ndarray"), _tuple(_i(0)), _b(b"b"))
               + b"R" + _tuple(_i(1), _tuple(_i(1)), _numpy_dtype("O", b""), b"\x89", b"]" + _i(1) + b"a") + b"b")
    case("numpy-object-array", zip_checkpoint(folder / "np_objarr.pth.tar", P2 + obj_arr + b"."))
    # tensors whose size or stride names elements that are not in the file
    case("stride0-expand-1e18", zip_checkpoint(folder / "stride0.pth.tar",
                                               _net(_tensor("FloatStorage", "0", 1, 0, (10**9, 10**9), (0, 0))),
                                               {"0": b"\0" * 4}))
    case("tensor-larger-than-storage", zip_checkpoint(folder / "oversize.pth.tar",
                                                      _net(_tensor("FloatStorage", "0", 4, 0, (100,), (1,))),
                                                      {"0": b"\0" * 16}))
    case("tensor-offset-past-end", zip_checkpoint(folder / "offset.pth.tar",
                                                  _net(_tensor("FloatStorage", "0", 4, 3, (2,), (1,))),
                                                  {"0": b"\0" * 16}))
    case("storage-claims-more-than-record", zip_checkpoint(folder / "claims.pth.tar",
                                                           _net(_tensor("FloatStorage", "0", 10**12, 0, (1,), (1,))),
                                                           {"0": b"\0" * 4}))
    case("storage-record-missing", zip_checkpoint(folder / "norecord.pth.tar",
                                                  _net(_tensor("FloatStorage", "7", 1, 0, (1,), (1,)))))
    case("storage-negative-size", zip_checkpoint(folder / "negsize.pth.tar",
                                                 _net(_tensor("FloatStorage", "0", 4, 0, (-4,), (1,))),
                                                 {"0": b"\0" * 16}))
    case("complex-weights", zip_checkpoint(folder / "complex.pth.tar",
                                           _net(_tensor("ComplexFloatStorage", "0", 1, 0, (1,), (1,))),
                                           {"0": b"\0" * 8}))
    case("int64-weights", zip_checkpoint(folder / "int64.pth.tar", _net(_tensor("LongStorage", "0", 1, 0, (), ())),
                                         {"0": b"\0" * 8}), "not-fit")
    case("big-endian", zip_checkpoint(folder / "bigendian.pth.tar", _net(_tensor("FloatStorage", "0", 1, 0, (), ())),
                                      {"0": b"\0" * 4}, byteorder=b"big"))
    case("torch-tensor-constructor", zip_checkpoint(folder / "tensor_ctor.pth.tar",
                                                    P2 + _g("torch", "Tensor") + _tuple(_i(10**10)) + b"R."))
    # pickle-level resource bombs
    case("memo-bomb", _w(folder / "memo.pth.tar", P2 + b"Nr\xf0\xff\xff\xff."))
    case("memo-bomb-zip", zip_checkpoint(folder / "memo_zip.pth.tar", P2 + b"Nr\xf0\xff\xff\xff."))
    # 90 levels of [previous, previous]: 400 bytes, 2**90 entries when walked (or printed) as a tree
    dag = P2 + b"]q\x00" + b"".join(b"(h" + bytes([k]) + b"h" + bytes([k]) + b"lq" + bytes([k + 1]) + b"0"
                                    for k in range(90))
    dag += b"}" + _u("net") + b"}s" + _u("constructor") + b"h" + bytes([90]) + b"s."
    case("list-doubling-dag", zip_checkpoint(folder / "dag.pth.tar", dag))
    deep = P2 + b"]" * 200_000 + b"a" * (200_000 - 1) + b"."
    case("deep-nesting", zip_checkpoint(folder / "deep.pth.tar", deep))
    case("deep-nesting-legacy", _w(folder / "deep_legacy.pth.tar", deep))
    # container-level bombs
    bomb = folder / "deflate_bomb.pth.tar"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("archive/data.pkl", _net(_tensor("FloatStorage", "0", 300 << 20, 0, (1,), (1,))))
        with z.open("archive/data/0", "w", force_zip64=True) as f:
            chunk = bytes(16 << 20)
            for _ in range(75):  # 1.2 GB of zeros in ~1.2 MB
                f.write(chunk)
    case("deflate-bomb", bomb)
    sparse = folder / "sparse.pth.tar"
    with open(sparse, "wb") as f:
        f.truncate(2 << 30)
    case("sparse-2GB", sparse)
    sparse_tar = folder / "sparse_small.pth.tar"
    with open(sparse_tar, "wb") as f:
        f.truncate(200 << 20)
    case("sparse-200MB-zeros", sparse_tar)
    tar_like = bytearray(1024)
    tar_like[257:262] = b"ustar"
    case("tar-header", _w(folder / "tar.pth.tar", bytes(tar_like)))
    # hostile globals and opcodes
    case("os-system", _w(folder / "system.pth.tar", P2 + _g("os", "system") + _tuple(_u("true")) + b"R."))
    case("posix-system-zip", zip_checkpoint(folder / "posix.pth.tar", P2 + _g("posix", "system") + _tuple(_u("true"))
                                            + b"R."))
    case("stack-global-eval", zip_checkpoint(folder / "stackglobal.pth.tar", b"\x80\x04" + _u("builtins") + _u("eval")
                                             + b"\x93" + _tuple(_u("1")) + b"R."))
    case("codecs-other-encoding", zip_checkpoint(folder / "codecs.pth.tar", P2 + _g("_codecs", "encode")
                                                 + _tuple(_u("x"), _u("rot13")) + b"R."))
    case("ext-opcode", zip_checkpoint(folder / "ext.pth.tar", P2 + b"\x82\x01."))
    case("inst-opcode", zip_checkpoint(folder / "inst.pth.tar", b"(ios\nsystem\nS'true'\n."))
    case("torchscript", zip_checkpoint(folder / "script.pth.tar", P2 + b"N.", {"../code/x": b""}))
    # damaged files
    good = zip_checkpoint(folder / "good_tmp.zip", _net(_tensor("FloatStorage", "0", 1, 0, (), ())), {"0": b"\0" * 4})
    data = good.read_bytes()
    good.unlink()
    case("truncated-zip", _w(folder / "truncated.pth.tar", data[: len(data) // 2]))
    case("garbage", _w(folder / "garbage.pth.tar", bytes(range(256)) * 4))
    case("empty", _w(folder / "empty.pth.tar", b""))
    case("truncated-pickle", zip_checkpoint(folder / "truncpkl.pth.tar", P2 + b"}" + _u("net")))
    case("folder", folder / "a_folder.pth.tar")
    (folder / "a_folder.pth.tar").mkdir(exist_ok=True)
    legacy_magic = pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2) + pickle.dumps(1001, protocol=2) \
        + pickle.dumps({"little_endian": True}, protocol=2)
    legacy_obj = _net(_tensor("FloatStorage", "k", 10**12, 0, (1,), (1,)))
    case("legacy-huge-storage", _w(folder / "legacy_huge.pth.tar", legacy_magic + legacy_obj
                                   + pickle.dumps(["k"], protocol=2) + struct.pack("<q", 10**12) + b"\0" * 16))
    legacy_ok = _net(_tensor("FloatStorage", "k", 4, 0, (4,), (1,)))
    case("legacy-truncated-data", _w(folder / "legacy_trunc.pth.tar", legacy_magic + legacy_ok
                                     + pickle.dumps(["k"], protocol=2) + struct.pack("<q", 4) + b"\0" * 7))
    case("legacy-numel-mismatch", _w(folder / "legacy_mismatch.pth.tar", legacy_magic + legacy_ok
                                     + pickle.dumps(["k"], protocol=2) + struct.pack("<q", 2) + b"\0" * 16))
    return out


# ---- annotation formats ------------------------------------------------------------------------------------------------
def _research(header: dict, *records) -> str:
    base = {"format": "keeptrack-research", "version": 1, "name": "s", "source": None, "num_frames": 3,
            "image_size": None}
    base.update(header)
    return "\n".join([json.dumps(base)] + [r if isinstance(r, str) else json.dumps(r) for r in records]) + "\n"


def _project(**fields) -> str:
    base = {"format": "keeptrack-studio-project", "version": 1, "saved_at": 1.0, "source": None,
            "source_relative": None, "name": "s", "num_frames": 3, "image_size": None, "settings": {},
            "autosave_of": None, "frames": [[0, 1, 2, 3, 4, "m", None, None]], "debug": None}
    base.update(fields)
    return json.dumps(base)


def _coco(images, annotations, videos=None) -> str:
    return json.dumps({"videos": videos if videos is not None else [{"id": 1, "name": "v"}], "images": images,
                       "annotations": annotations})


def _img(i, frame=None, **extra):
    d = {"id": i, "video_id": 1, **extra}
    if frame is not None:
        d["frame_id"] = frame
    return d


def _ann(image_id, bbox, **extra):
    return {"id": image_id, "image_id": image_id, "video_id": 1, "instance_id": 1, "bbox": bbox, **extra}


def annotation_cases(folder: Path) -> list[tuple]:
    out = []

    def case(name, fmt, path, options=None, expect="error"):
        out.append((f"{fmt}-{name}", "annotations", str(path), {"format": fmt, **(options or {})}, expect))

    # OTB / LaSOT / GOT-10k / VOT text
    o = folder / "otb"
    case("not-a-number", "otb", _w(o / "nan1" / "groundtruth_rect.txt", "1,2,3,4\n1,2,x,4\n"))
    case("three-values", "otb", _w(o / "three" / "groundtruth_rect.txt", "1,2,3\n"))
    case("infinite", "otb", _w(o / "inf" / "groundtruth_rect.txt", "1,2,inf,4\n"))
    case("huge-value", "otb", _w(o / "huge" / "groundtruth_rect.txt", "1,2,1e300,4\n"))
    case("blank-line", "otb", _w(o / "blank" / "groundtruth_rect.txt", "1,2,3,4\n\n1,2,3,4\n"))
    case("not-utf8", "otb", _w(o / "bin" / "groundtruth_rect.txt", b"\xff\xfe\x00\x01" * 10))
    big = o / "big" / "groundtruth_rect.txt"
    big.parent.mkdir(parents=True, exist_ok=True)
    with open(big, "wb") as f:
        f.truncate(300 << 20)
    case("sparse-300MB", "otb", big)
    la = folder / "lasot" / "seq"
    _w(la / "groundtruth.txt", "1,2,3,4\n1,2,3,4\n")
    _w(la / "full_occlusion.txt", "0,1,0\n")
    _w(la / "out_of_view.txt", "0,0\n")
    case("side-file-count", "lasot", la)
    la2 = folder / "lasot" / "seq2"
    _w(la2 / "groundtruth.txt", "1,2,3,4\n")
    _w(la2 / "full_occlusion.txt", "2\n")
    case("label-2", "lasot", la2)
    g = folder / "got" / "seq"
    _w(g / "groundtruth.txt", "1,2,3,4\n")
    _w(g / "absence.label", "x\n")
    case("absence-not-label", "got10k", g)
    g2 = folder / "got" / "seq2"
    _w(g2 / "groundtruth.txt", "1,2,3,4\n")
    _w(g2 / "absence.label", "0\n")
    _w(g2 / "cover.label", "9\n")
    case("cover-9", "got10k", g2)
    v = folder / "vot"
    case("mask", "vot", _w(v / "mask" / "groundtruth.txt", "m1,2,3\n"))
    case("five-values", "vot", _w(v / "five" / "groundtruth.txt", "1,2,3,4,5\n"))
    case("degenerate-polygon", "vot", _w(v / "poly" / "groundtruth.txt", "1,1,1,1,1,1\n"))
    case("partial-nan", "vot", _w(v / "pnan" / "groundtruth.txt", "nan,1,2,3\n"))
    # MOT
    m = folder / "mot"
    case("frame-3e7", "mot", _w(m / "f3e7" / "gt" / "gt.txt", "30000000,1,1,1,5,5,1,1,1\n"))
    case("frame-0", "mot", _w(m / "f0" / "gt" / "gt.txt", "0,1,1,1,5,5,1,1,1\n"))
    case("frame-fraction", "mot", _w(m / "ffrac" / "gt" / "gt.txt", "1.5,1,1,1,5,5,1,1,1\n"))
    case("nan-values", "mot", _w(m / "fnan" / "gt" / "gt.txt", "1,1,nan,1,5,5,1,1,1\n"))
    case("inf-frame", "mot", _w(m / "finf" / "gt" / "gt.txt", "inf,1,1,1,5,5,1,1,1\n"))
    case("five-columns", "mot", _w(m / "fcol" / "gt" / "gt.txt", "1,1,1,1,5\n"))
    case("duplicate-frame", "mot", _w(m / "fdup" / "gt" / "gt.txt", "1,1,1,1,5,5,1,1,1\n1,1,1,1,5,5,1,1,1\n"))
    case("zero-area", "mot", _w(m / "farea" / "gt" / "gt.txt", "1,1,1,1,0,5,1,1,1\n"))
    for name, value in (("negative", "-5"), ("text", "abc"), ("1e12", "1000000000000"), ("float", "2.5")):
        s = m / f"seqlen_{name}"
        _w(s / "gt" / "gt.txt", "1,1,1,1,5,5,1,1,1\n")
        _w(s / "seqinfo.ini", f"[Sequence]\nname=x\nseqLength={value}\n")
        case(f"seqLength-{name}", "mot", s)
    s = m / "seqinfo_broken"
    _w(s / "gt" / "gt.txt", "1,1,1,1,5,5,1,1,1\n")
    _w(s / "seqinfo.ini", "no section here\n")
    case("seqinfo-no-section", "mot", s)
    s = m / "frames_opt"
    _w(s / "gt" / "gt.txt", "1,1,1,1,5,5,1,1,1\n")
    case("num-frames-1e12", "mot", s, {"num_frames": 10**12})
    # COCO-VID
    c = folder / "coco"
    case("frame-id-minus-1", "coco-vid", _w(c / "fm1.json", _coco([_img(1, -1), _img(2, 1)], [_ann(1, [1, 1, 2, 2])])))
    case("frame-id-1e12", "coco-vid", _w(c / "fbig.json", _coco([_img(1, 10**12)], [])))
    case("frame-id-text", "coco-vid", _w(c / "ftext.json", _coco([_img(1, "3")], [])))
    case("frame-id-float", "coco-vid", _w(c / "ffloat.json", _coco([_img(1, 1.5)], [])))
    case("bbox-string", "coco-vid", _w(c / "bstr.json", _coco([_img(1, 0)], [_ann(1, "1234")])))
    case("bbox-three", "coco-vid", _w(c / "b3.json", _coco([_img(1, 0)], [_ann(1, [1, 2, 3])])))
    case("bbox-nan", "coco-vid", _w(c / "bnan.json", '{"images": [{"id": 1, "frame_id": 0}], "annotations": '
                                    '[{"image_id": 1, "bbox": [1, 2, NaN, 4]}]}'))
    case("bbox-inf", "coco-vid", _w(c / "binf.json", '{"images": [{"id": 1, "frame_id": 0}], "annotations": '
                                    '[{"image_id": 1, "bbox": [1, 2, 1e999, 4]}]}'))
    case("bbox-negative", "coco-vid", _w(c / "bneg.json", _coco([_img(1, 0)], [_ann(1, [1, 2, -3, 4])])))
    case("bbox-bools", "coco-vid", _w(c / "bbool.json", _coco([_img(1, 0)], [_ann(1, [True, 2, 3, 4])])))
    case("duplicate-image-ids", "coco-vid", _w(c / "dupid.json", _coco([_img(1, 0), _img(1, 1)], [])))
    case("duplicate-frame-ids", "coco-vid", _w(c / "dupframe.json", _coco([_img(1, 0), _img(2, 0)], [])))
    case("videos-number", "coco-vid", _w(c / "vnum.json", _coco([], [], videos=5)))
    case("videos-strings", "coco-vid", _w(c / "vstr.json", _coco([], [], videos=["a"])))
    case("images-not-list", "coco-vid", _w(c / "inl.json", json.dumps({"images": 5, "annotations": []})))
    case("image-not-object", "coco-vid", _w(c / "ino.json", _coco([5], [])))
    case("image-without-id", "coco-vid", _w(c / "noid.json", _coco([{"video_id": 1, "frame_id": 0}], [])))
    case("annotation-not-object", "coco-vid", _w(c / "ano.json", _coco([_img(1, 0)], ["x"])))
    case("two-boxes-one-frame", "coco-vid", _w(c / "two.json", _coco([_img(1, 0)], [_ann(1, [1, 1, 2, 2]),
                                                                                      _ann(1, [1, 1, 2, 2])])))
    case("deep-json", "coco-vid", _w(c / "deep.json", "[" * 100_000 + "]" * 100_000))
    case("not-json", "coco-vid", _w(c / "bad.json", '{"images": ['))
    # research JSON lines
    r = folder / "research"
    good = {"frame": 0, "annotation": {"box": [1, 2, 3, 4], "provenance": "manual", "engine": None, "presence": None},
            "result": None}
    case("box-three-numbers", "research", _w(r / "b3.jsonl", _research({}, {**good, "annotation": {
        **good["annotation"], "box": [1, 2, 3]}})))
    case("box-string", "research", _w(r / "bs.jsonl", _research({}, {**good, "annotation": {
        **good["annotation"], "box": "1234"}})))
    case("box-nan", "research", _w(r / "bnan.jsonl", _research({}, '{"frame": 0, "annotation": {"box": [1, 2, NaN, 4],'
                                                               ' "provenance": "manual"}}')))
    case("box-negative", "research", _w(r / "bneg.jsonl", _research({}, {**good, "annotation": {
        **good["annotation"], "box": [1, 2, -3, 4]}})))
    case("presence-text", "research", _w(r / "pres.jsonl", _research({}, {**good, "annotation": {
        **good["annotation"], "presence": "high"}})))
    case("provenance-unknown", "research", _w(r / "prov.jsonl", _research({}, {**good, "annotation": {
        **good["annotation"], "provenance": "magic"}})))
    case("num-frames-3e8", "research", _w(r / "n3e8.jsonl", _research({"num_frames": 300_000_000})))
    case("num-frames-1e12", "research", _w(r / "n1e12.jsonl", _research({"num_frames": 10**12})))
    case("num-frames-text", "research", _w(r / "nx.jsonl", _research({"num_frames": "x"})))
    case("num-frames-negative", "research", _w(r / "nneg.jsonl", _research({"num_frames": -3})))
    case("version-text", "research", _w(r / "vabc.jsonl", _research({"version": "abc"})))
    case("version-newer", "research", _w(r / "v99.jsonl", _research({"version": 99})))
    case("image-size-bad", "research", _w(r / "isz.jsonl", _research({"image_size": [10**12, "a"]})))
    case("frame-outside", "research", _w(r / "fout.jsonl", _research({}, {**good, "frame": 7})))
    case("frame-twice", "research", _w(r / "ftwice.jsonl", _research({}, good, good)))
    case("record-not-object", "research", _w(r / "rno.jsonl", _research({}, "[1, 2]")))
    case("result-box-string", "research", _w(r / "rbs.jsonl", _research({}, {**good, "result": {
        "frame_index": 0, "box": "1234", "presence": 1.0}})))
    case("deep-header", "research", _w(r / "deep.jsonl", "[" * 100_000 + "]" * 100_000 + "\n"))
    # projects
    p = folder / "project"
    case("num-frames-3e8", "project", _w(p / "n3e8.ktproj", _project(num_frames=300_000_000)))
    case("num-frames-1e12", "project", _w(p / "n1e12.ktproj", _project(num_frames=10**12)))
    case("num-frames-text", "project", _w(p / "nx.ktproj", _project(num_frames="x")))
    case("version-text", "project", _w(p / "vabc.ktproj", _project(version="abc")))
    case("version-bool", "project", _w(p / "vtrue.ktproj", _project(version=True)))
    case("frames-not-list", "project", _w(p / "fnl.ktproj", _project(frames=5)))
    case("frame-row-short", "project", _w(p / "frs.ktproj", _project(frames=[[0, 1, 2]])))
    case("frame-box-three", "project", _w(p / "fb3.ktproj", _project(frames=[[0, 1, 2, 3, None, "m", None, None]])))
    case("frame-box-string", "project", _w(p / "fbs.ktproj", _project(frames=[[0, "1", "2", "3", "4", "m", None,
                                                                                None]])))
    case("frame-outside", "project", _w(p / "fout.ktproj", _project(frames=[[9, 1, 2, 3, 4, "m", None, None]])))
    case("frame-provenance", "project", _w(p / "fprov.ktproj", _project(frames=[[0, 1, 2, 3, 4, "z", None, None]])))
    case("settings-retrack-unknown", "project", _w(p / "rk.ktproj", _project(settings={"retrack": {"speed": 3}})))
    case("settings-retrack-bad-value", "project", _w(p / "rv.ktproj", _project(settings={"retrack": {
        "max_frames": "x"}})))
    case("settings-not-object", "project", _w(p / "snl.ktproj", _project(settings=[1])))
    case("image-size-bad", "project", _w(p / "isz.ktproj", _project(image_size="big")))
    case("name-number", "project", _w(p / "nm.ktproj", _project(name=5)))
    case("debug-garbage", "project", _w(p / "dbg.ktproj", _project(debug={"encoding": "columns-v1", "count": 10**9,
                                                                          "frame": "AAAA"})))
    case("debug-not-object", "project", _w(p / "dbgl.ktproj", _project(debug=[1, 2])))
    case("deep-json", "project", _w(p / "deep.ktproj", "[" * 100_000 + "]" * 100_000))
    case("saved-at-text", "project", _w(p / "sat.ktproj", _project(saved_at="yesterday")))
    return out


def recovery_cases(folder: Path) -> list[tuple]:
    """An autosave folder with one good autosave and several broken ones: the good one is still offered."""
    auto = folder / "autosave"
    _w(auto / "good-000000000001.ktproj", _project(saved_at=2e9))
    _w(auto / "broken1-000000000002.ktproj", _project(num_frames="x"))
    _w(auto / "broken2-000000000003.ktproj", "{")
    _w(auto / "broken3-000000000004.ktproj", _project(settings={"retrack": {"speed": 1}}))
    _w(auto / "broken4-000000000005.ktproj", b"\xff\xfe")
    _w(auto / "broken5-000000000006.ktproj", "[" * 100_000)
    _w(auto / "broken6-000000000007.ktproj", _project(frames=[[0, 1, 2, 3]]))
    return [("autosave-broken-beside-good", "recovery", str(auto), {}, "recovered:1")]


# ---- images and videos -------------------------------------------------------------------------------------------------
def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def _png_bomb(width: int, height: int) -> bytes:
    """A valid-looking PNG of width x height black pixels whose data is a small deflate stream."""
    c = zlib.compressobj(9)
    row = bytes(1 + 3 * width)
    data = b"".join(c.compress(row) for _ in range(min(height, 100))) + c.flush()  # a truncated image body
    idat = struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    return _png_header(width, height) + idat + b"\0\0\0\0IEND\xaeB`\x82"


def image_cases(folder: Path) -> list[tuple]:
    out = []

    def case(name, files: dict[str, bytes]):
        seq = folder / "images" / name
        for fname, data in files.items():
            _w(seq / fname, data)
        out.append((f"image-{name}", "image", str(seq), {}, "error"))

    case("png-30000x30000", {"00000001.png": _png_bomb(30000, 30000)})
    bmp = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 40000, 40000, 1, 24, 0, 0,
                                                                       0, 0, 0, 0)
    case("bmp-40000x40000", {"00000001.bmp": bmp})
    jpg = b"\xff\xd8\xff\xc0\x00\x11\x08" + struct.pack(">HH", 60000, 60000) + b"\x03\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    case("jpeg-60000x60000", {"00000001.jpg": jpg})
    tif = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 2) + struct.pack("<HHII", 256, 4, 1, 50000) \
        + struct.pack("<HHII", 257, 4, 1, 50000) + b"\0\0\0\0"
    case("tiff-50000x50000", {"00000001.tif": tif})
    case("truncated-png", {"00000001.png": _png_header(64, 64)})
    case("text-as-jpg", {"00000001.jpg": b"hello, not an image\n"})
    case("empty-png", {"00000001.png": b""})
    return out


def video_cases(folder: Path) -> list[tuple]:
    out = []
    for name, data in (("garbage.mp4", bytes(range(256)) * 64), ("empty.avi", b""),
                       ("text.mkv", b"not a video at all\n" * 100)):
        out.append((f"video-{name}", "video", str(_w(folder / "videos" / name, data)), {}, "error"))
    return out


def all_cases(folder: Path) -> list[tuple]:
    folder = Path(folder)
    return (checkpoint_cases(folder / "ckpt") + annotation_cases(folder / "ann") + recovery_cases(folder)
            + image_cases(folder) + video_cases(folder))


if __name__ == "__main__":  # python tests/fuzz_corpus.py FOLDER: write the corpus and list it
    import sys

    for c in all_cases(Path(sys.argv[1])):
        print(c[0], c[2])
