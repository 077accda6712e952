"""Reading pytracking checkpoints (`*.pth.tar`) safely: the ONLY place in the project that unpickles anything.

The official files are `torch.save` pickles of a dict {'net': state dict, 'constructor': a pickled
`ltr.admin.model_constructor.NetConstructor`, 'epoch', 'stats', 'settings', ...}. They are read here, not by
torch.load: a restricted unpickler resolves only tensor pieces, plain containers and dtypes (any class from the
pytracking packages `ltr.*`, `dlframework.*`, `pytracking.*` becomes an inert data holder; everything else, such as
os.system or builtins.exec, stops the load before the object is called). Tensors and numpy values are rebuilt from
raw bytes with a whitelisted element type, after their sizes are checked against the bytes really in the file; the
pickle's memo, its operation count, the structure's size and nesting and the file itself are bounded (limits below,
listed in docs/hostile-files.md). TorchScript archives and the pre-1.0 tar format are refused outright. No code from
a checkpoint ever runs.

After reading, a file is identified (SuperDiMP-Simple / SuperDiMP base network, KeepTrack association network) from
its stored constructor (or, for a bare state dict, from its keys), the constructor arguments are checked against what
tracker.nets implements, and the state dict is checked key by key and shape by shape; every mismatch is listed.
"""
from __future__ import annotations

import _compat_pickle
import collections
import math
import pickle
import zipfile
from collections.abc import Callable
from zlib import error as zlib_error
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from .errors import CheckpointError

SUPER_DIMP_SIMPLE = "super_dimp_simple"
SUPER_DIMP = "super_dimp"
KEEP_TRACK = "keep_track"

KIND_LABELS = {
    SUPER_DIMP_SIMPLE: "SuperDiMP-Simple base network (super_dimp_simple.pth.tar, constructor dimpnet50_simple)",
    SUPER_DIMP: "SuperDiMP base network (super_dimp.pth.tar, constructor dimpnet50)",
    KEEP_TRACK: "KeepTrack association network (keep_track.pth.tar, constructor target_candidate_matching_net_resnet50)",
}
BASE_KINDS = (SUPER_DIMP_SIMPLE, SUPER_DIMP)

# Module prefixes whose classes are replaced by inert stand-ins ('dlframework' is the pre-release name of 'ltr').
_PYTRACKING_PREFIXES = ("ltr", "dlframework", "pytracking")


# --- Restricted unpickling ---------------------------------------------------------------------------------------------
# Every allocation a weight file can cause is bounded (docs/hostile-files.md lists the limits).
MAX_CHECKPOINT_BYTES = 1 << 30  # the official files are 100-300 MB
MAX_PICKLE_BYTES = 64 << 20  # the pickled structure (tensor data lives outside it)
MAX_PICKLE_OPCODES = 4_000_000
MAX_OBJECTS = 2_000_000  # entries reachable in the loaded structure, counted once per path to them
MAX_DEPTH = 100  # nesting of containers
MAX_ZIP_ENTRIES = 100_000
# Tensor element types a weight file may hold (complex, quantized and other exotic types are refused).
TENSOR_DTYPES = {"FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
                 "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
                 "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
                 "BoolStorage": torch.bool}
# numpy scalars / arrays (optimizer states, settings) are rebuilt from their raw bytes with one of these dtypes.
NUMPY_DTYPES = frozenset({"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"})
_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c


class UnsafeCheckpoint(pickle.UnpicklingError):
    """The pickle refers to a global that is neither a tensor piece, a plain container nor a pytracking class."""


class _Malformed(Exception):
    """The file's structure is inconsistent or over a limit (message says which)."""


class PickledObject:
    """Inert stand-in for a pytracking class: keeps constructor arguments and pickled state as plain data and does
    nothing else (no methods of the original class exist)."""

    pickled_name = "?"

    def __init__(self, *args, **kwargs):
        self.__dict__["_init_args"] = args
        self.__dict__["_init_kwargs"] = kwargs

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):  # (dict, slots)
            state = {**(state[0] or {}), **state[1]}
        if isinstance(state, dict):
            self.__dict__.update({str(key): value for key, value in state.items()})
        else:
            self.__dict__["_state"] = state

    # Containers subclassed in pytracking (TensorList, TensorDict) are pickled with APPENDS / SETITEMS.
    def append(self, item):
        self.__dict__.setdefault("_items", []).append(item)

    def extend(self, items):
        self.__dict__.setdefault("_items", []).extend(items)

    def __setitem__(self, key, value):
        self.__dict__.setdefault("_mapping", {})[key] = value

    def __repr__(self):
        return f"<pickled {self.pickled_name}>"


_STUB_CLASSES: dict[str, type] = {}


def _stub_class(module: str, name: str) -> type:
    full = f"{module}.{name}"
    if full not in _STUB_CLASSES:
        _STUB_CLASSES[full] = type(name, (PickledObject,), {"pickled_name": full, "__module__": "tracker.checkpoints"})
    return _STUB_CLASSES[full]


@dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: torch.dtype


class _NumpyDType:
    """A numpy dtype by name, checked against NUMPY_DTYPES; its pickled state may only set the byte order."""

    def __init__(self, name, align=False, copy=False):
        if not isinstance(name, str) or name not in NUMPY_DTYPES:
            raise _Malformed(f"holds a numpy value of type {name!r}; only plain numeric types are read")
        self.name, self.order = name, "="

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|", "=")):
            raise _Malformed("holds a numpy type with an unexpected state")
        if any(v not in (None, -1, 0) for v in state[2:]):
            raise _Malformed("holds a numpy type with fields or flags; only plain numeric types are read")
        self.order = state[1]

    def numpy(self):
        import numpy as np

        dtype = np.dtype(self.name)
        return dtype if self.order in ("=", "|") else dtype.newbyteorder(self.order)


def _numpy_scalar(dtype, data=None):
    import numpy as np

    if not isinstance(dtype, _NumpyDType) or not isinstance(data, bytes):
        raise _Malformed("holds a numpy scalar that is not a plain number")
    real = dtype.numpy()
    if len(data) != real.itemsize:
        raise _Malformed(f"holds a numpy scalar of {len(data)} bytes for a {real.itemsize}-byte type")
    return np.frombuffer(data, dtype=real)[0]


class _NumpyArray:
    """numpy's _reconstruct + BUILD, rebuilt with np.frombuffer from the raw bytes after checking them."""

    def __init__(self, *args):
        self.array = None

    def __setstate__(self, state):
        import numpy as np

        if not (isinstance(state, tuple) and len(state) == 5):
            raise _Malformed("holds a numpy array with an unexpected state")
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _NumpyDType) or not isinstance(raw, bytes):
            raise _Malformed("holds a numpy array that is not plain numbers")
        if not (isinstance(shape, tuple) and all(type(s) is int and s >= 0 for s in shape)):
            raise _Malformed(f"holds a numpy array of bad shape {shape!r}")
        real = dtype.numpy()
        if math.prod(shape) * real.itemsize != len(raw):
            raise _Malformed(f"holds a numpy array of shape {shape} with {len(raw)} bytes of data")
        self.array = np.frombuffer(raw, dtype=real).reshape(shape, order="F" if fortran else "C").copy()


def _numpy_reconstruct(cls, shape=None, typecode=None):
    if cls is not _NUMPY_NDARRAY:
        raise _Malformed("rebuilds a numpy object that is not an array")
    return _NumpyArray()


_NUMPY_NDARRAY = object()


def _latin1_encode(text, encoding="latin1"):
    if not isinstance(text, str) or str(encoding).lower() not in {"latin1", "latin-1", "iso-8859-1", "iso8859-1"}:
        raise UnsafeCheckpoint(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _tensor(storage, offset, size, stride, *rest):
    """A tensor viewing `storage`, after checking that every element it names lies in the storage's bytes."""
    if not isinstance(storage, _Storage):
        raise _Malformed("a tensor is rebuilt from something that is not a storage")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
            and all(type(v) is int and v >= 0 for v in (*size, *stride)) and type(offset) is int and offset >= 0):
        raise _Malformed(f"a tensor has a malformed size {size!r} / stride {stride!r} / offset {offset!r}")
    numel = math.prod(size)
    if numel > storage.numel:
        raise _Malformed(f"a tensor of shape {size} ({numel} elements) claims more elements than its storage "
                         f"holds ({storage.numel})")
    if numel and offset + sum((s - 1) * st for s, st in zip(size, stride)) >= storage.numel:
        raise _Malformed(f"a tensor of shape {size}, stride {stride}, offset {offset} reaches past its storage "
                         f"({storage.numel} elements)")
    if storage.data is None:  # first pass over a legacy file: only the storages are being listed
        return None
    if numel == 0:
        return torch.empty(size, dtype=storage.dtype)
    return storage.data.as_strided(size, stride, offset)


def _parameter(data, *rest):
    return data


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("torch._utils", "_rebuild_tensor"): _tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _tensor,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _parameter,
    ("_codecs", "encode"): _latin1_encode,
}
for _np in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_np, "scalar")] = _numpy_scalar
    _ALLOWED[(_np, "_reconstruct")] = _numpy_reconstruct
_ALLOWED[("numpy", "dtype")] = _NumpyDType
_ALLOWED[("numpy", "ndarray")] = _NUMPY_NDARRAY
for _name, _dtype in TENSOR_DTYPES.items():
    _ALLOWED[("torch", _name)] = _StorageType(_name, _dtype)
_ALLOWED[("torch", "UntypedStorage")] = _StorageType("UntypedStorage", torch.uint8)
for _name in dir(torch):
    if isinstance(getattr(torch, _name, None), torch.dtype):
        _ALLOWED[("torch", _name)] = getattr(torch, _name)


@dataclass
class _Storage:
    key: str
    dtype: torch.dtype
    numel: int
    data: torch.Tensor | None = None  # flat, dtype; None while only listing


def _scan_pickle(data: bytes) -> None:
    """Refuse pickles whose opcodes alone would take unbounded memory (huge memo indices, too many opcodes)."""
    import pickletools

    count = 0
    for opcode, arg, _ in pickletools.genops(data):
        count += 1
        if count > MAX_PICKLE_OPCODES:
            raise _Malformed(f"its pickle has more than {MAX_PICKLE_OPCODES} operations")
        if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET") and \
                (not isinstance(arg, int) or arg > MAX_PICKLE_OPCODES):
            raise _Malformed(f"its pickle uses memo slot {arg!r}, far beyond its size")
        if opcode.name in ("EXT1", "EXT2", "EXT4", "PERSID", "INST", "OBJ", "NEWOBJ_EX", "STACK_GLOBAL"):
            if opcode.name != "STACK_GLOBAL":
                raise UnsafeCheckpoint(f"uses the pickle operation {opcode.name}, which weight files never need")


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in _ALLOWED (plus inert pytracking stand-ins); storages come from `storages`."""

    def __init__(self, file, storages: Callable[[tuple], _Storage] | None = None, **kwargs):
        super().__init__(file, **kwargs)
        self._storages = storages

    def find_class(self, module: str, name: str):
        # Protocol 0-2 pickles (torch.save uses 2) name Python 2 modules: map them as pickle itself would.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        key = (module, name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        if module.split(".")[0] in _PYTRACKING_PREFIXES:
            return _stub_class(module, name)
        raise UnsafeCheckpoint(f"refers to {module}.{name}, which is not allowed in a weight file "
                               "(only tensors, plain containers and pytracking records are)")

    def persistent_load(self, pid):
        if self._storages is None:
            raise _Malformed("a plain pickle refers to tensor data it does not hold")
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] in ("storage", b"storage")):
            raise _Malformed(f"refers to stored data of unknown kind {str(pid)[:80]}")
        if not isinstance(pid[1], _StorageType) or not isinstance(pid[2], (str, int)) or type(pid[4]) is not int \
                or pid[4] < 0:
            raise _Malformed(f"has a malformed storage record {str(pid)[:120]}")
        return self._storages(pid)


def _unpickle(data: bytes, storages=None) -> Any:
    import io

    _scan_pickle(data)
    return RestrictedUnpickler(io.BytesIO(data), storages, encoding="latin1").load()


def _children(value: Any) -> list | None:
    if isinstance(value, Mapping):
        return [v for pair in value.items() for v in pair]
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    if isinstance(value, PickledObject):
        return list(value.__dict__.values())
    return None


def _check_structure(obj: Any) -> None:
    """Bound the loaded structure: at most MAX_OBJECTS entries counted once per path to them (shared sub-lists
    repeated in a DAG would otherwise blow up every later repr or walk) and MAX_DEPTH nesting. Sizes and heights
    are memoised per object, so the check costs one visit per distinct object; iterative, no recursion."""
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    open_: set[int] = set()  # objects whose children are being sized
    stack: list[tuple[Any, list | None]] = [(obj, None)]
    while stack:
        value, kids = stack.pop()
        key = id(value)
        if key in size:
            continue
        if kids is None:
            kids = _children(value)
            if not kids:
                size[key], height[key] = 1, 0
                continue
            if key in open_:
                raise _Malformed("holds a structure that contains itself")
            open_.add(key)
            if len(open_) > MAX_DEPTH:  # open_ is the current path from the root
                raise _Malformed(f"nests containers more than {MAX_DEPTH} deep")
            stack.append((value, kids))
            stack.extend((k, None) for k in kids if id(k) not in size)
            continue
        open_.discard(key)
        total, tallest = 1, 0
        for k in kids:
            total += size.get(id(k), 1)
            tallest = max(tallest, height.get(id(k), 0))
        if total > MAX_OBJECTS:
            raise _Malformed(f"holds more than {MAX_OBJECTS} nested entries (counted along every path to them)")
        if tallest + 1 > MAX_DEPTH:
            raise _Malformed(f"nests containers more than {MAX_DEPTH} deep")
        size[key], height[key] = total, tallest + 1


def _replace_numpy(obj: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return obj
    if isinstance(obj, _NumpyArray):
        return obj.array
    if isinstance(obj, _NumpyDType):
        return obj.numpy()
    if isinstance(obj, dict):
        for key, value in list(obj.items()):
            obj[key] = _replace_numpy(value, depth + 1)
    elif isinstance(obj, list):
        obj[:] = [_replace_numpy(v, depth + 1) for v in obj]
    elif isinstance(obj, tuple) and any(isinstance(v, (_NumpyArray, _NumpyDType, list, dict, tuple)) for v in obj):
        return tuple(_replace_numpy(v, depth + 1) for v in obj)
    elif isinstance(obj, PickledObject):
        for key, value in list(obj.__dict__.items()):
            obj.__dict__[key] = _replace_numpy(value, depth + 1)
    return obj


def _flat(raw: bytes, dtype: torch.dtype) -> torch.Tensor:
    return torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)


def _load_zip(path: Path, archive: zipfile.ZipFile) -> Any:
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise _Malformed(f"a zip archive of {len(infos)} entries")
    names = [i.filename for i in infos]
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        raise CheckpointError(f"{path}: this is a TorchScript archive (it contains code); refused")
    pkl = [i for i in infos if i.filename.endswith("/data.pkl") or i.filename == "data.pkl"]
    if not pkl:
        raise CheckpointError(f"{path}: a zip archive, but not a PyTorch checkpoint (no data.pkl inside)")
    total = sum(i.file_size for i in infos)
    if total > MAX_CHECKPOINT_BYTES:
        raise _Malformed(f"its archive unpacks to {total} bytes, over the {MAX_CHECKPOINT_BYTES}-byte limit")
    prefix = pkl[0].filename[: -len("data.pkl")]
    if pkl[0].file_size > MAX_PICKLE_BYTES:
        raise _Malformed(f"its pickle is {pkl[0].file_size} bytes, over the {MAX_PICKLE_BYTES}-byte limit")
    by_name = {i.filename: i for i in infos}
    order = by_name.get(prefix + "byteorder")
    if order is not None and archive.read(order).strip() not in (b"little", b""):
        raise _Malformed("its tensors are stored big-endian")
    cache: dict[str, _Storage] = {}

    def storage(pid):
        _, stype, key, _location, numel = pid[:5]
        key = str(key)
        if key not in cache:
            info = by_name.get(f"{prefix}data/{key}")
            if info is None:
                raise _Malformed(f"has no data record for storage {key!r}")
            itemsize = torch.empty(0, dtype=stype.dtype).element_size()
            if info.file_size != numel * itemsize:
                raise _Malformed(f"storage {key!r} claims {numel} elements of {itemsize} bytes, its record holds "
                                 f"{info.file_size} bytes")
            cache[key] = _Storage(key, stype.dtype, numel, _flat(archive.read(info), stype.dtype))
        elif cache[key].dtype != stype.dtype:
            raise _Malformed(f"storage {key!r} is read as two element types")
        return cache[key]

    return _unpickle(archive.read(pkl[0]), storage)


def _legacy_pickles(data: bytes, count: int) -> list[tuple[int, int]]:
    """(start, end) of the first `count` pickles in `data`."""
    import io
    import pickletools

    spans, pos = [], 0
    stream = io.BytesIO(data)
    for _ in range(count):
        end = None
        stream.seek(pos)
        for opcode, _arg, at in pickletools.genops(stream):
            if opcode.name == "STOP":
                end = at + 1
                break
            if at - pos > MAX_PICKLE_BYTES:
                raise _Malformed(f"a pickle in it is over the {MAX_PICKLE_BYTES}-byte limit")
        if end is None:
            raise _Malformed("a pickle in it has no end")
        spans.append((pos, end))
        pos = end
    return spans


def _load_legacy(path: Path, data: bytes) -> Any:
    spans = _legacy_pickles(data, 3)
    head = [_unpickle(data[a:b]) for a, b in spans]
    if head[0] != _LEGACY_MAGIC:
        raise _Malformed("not a PyTorch checkpoint (Invalid magic number)")
    if head[1] != 1001:
        raise _Malformed(f"legacy format protocol {head[1]!r} is not supported")
    obj_start = spans[2][1]
    obj_end = _legacy_pickles(data[obj_start:], 1)[0][1] + obj_start
    keys_end = _legacy_pickles(data[obj_end:], 1)[0][1] + obj_end
    keys = _unpickle(data[obj_end:keys_end])
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)) or len(set(keys)) != len(keys):
        raise _Malformed("its list of storages is malformed")
    listed: dict[str, _Storage] = {}

    def list_storage(pid):
        _, stype, key, _location, numel = pid[:5]
        if len(pid) > 5 and pid[5] is not None:
            raise _Malformed("uses storage views, which this reader does not support")
        key = str(key)
        listed.setdefault(key, _Storage(key, stype.dtype, numel))
        if listed[key].dtype != stype.dtype or listed[key].numel != numel:
            raise _Malformed(f"storage {key!r} is described two ways")
        return listed[key]

    _unpickle(data[obj_start:obj_end], list_storage)  # first pass: which storages, of what type and size
    pos = keys_end
    for key in keys:
        if key not in listed:
            raise _Malformed(f"stores data for storage {key!r}, which nothing uses")
        s = listed[key]
        itemsize = torch.empty(0, dtype=s.dtype).element_size()
        if pos + 8 > len(data):
            raise _Malformed(f"ends before the data of storage {key!r}")
        numel = int.from_bytes(data[pos:pos + 8], "little", signed=True)
        if numel != s.numel or pos + 8 + numel * itemsize > len(data):
            raise _Malformed(f"storage {key!r} claims {numel} elements; the file has room for "
                             f"{max(0, len(data) - pos - 8) // itemsize}")
        s.data = _flat(data[pos + 8: pos + 8 + numel * itemsize], s.dtype)
        pos += 8 + numel * itemsize
    missing = [k for k in listed if listed[k].data is None]
    if missing:
        raise _Malformed(f"has no data for storage {missing[0]!r}")
    return _unpickle(data[obj_start:obj_end], lambda pid: listed[str(pid[2])])


def _read_loaded(path: Path) -> Any:
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{path}: {size} bytes, over the {MAX_CHECKPOINT_BYTES}-byte limit for a weight file")
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] == b"PK\x03\x04" or (head[:4] in (b"PK\x05\x06",) and zipfile.is_zipfile(path)):
        try:
            with zipfile.ZipFile(path) as archive:
                return _load_zip(path, archive)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib_error) as exc:
            raise CheckpointError(f"{path}: cannot be read as a PyTorch checkpoint; truncated or damaged? "
                                  f"(damaged zip archive: {str(exc)[:120]})") from None
    if len(head) >= 262 and head[257:262] == b"ustar":
        raise CheckpointError(f"{path}: a tar archive (pre-1.0 PyTorch format or not a checkpoint); not supported")
    if head[:1] != b"\x80":
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (Invalid magic number; neither a zip archive "
                              "nor a pickle)")
    data = path.read_bytes()
    try:
        first = _legacy_pickles(data, 1)[0]
        magic = _unpickle(data[first[0]:first[1]])
    except UnsafeCheckpoint:
        raise
    except (_Malformed, pickle.UnpicklingError, ValueError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({str(exc)[:120]})") from None
    if magic != _LEGACY_MAGIC:
        if first[1] == len(data):  # one plain pickle: what torch.load refuses as "Invalid magic number"
            raise CheckpointError(f"{path}: not a PyTorch checkpoint (Invalid magic number; a plain pickle)")
    return _load_legacy(path, data)


def safe_torch_load(path: str | Path) -> Any:
    """Read a torch.save file (zip or legacy format) on CPU without torch.load: every global is checked, every
    size is checked against the bytes really there, and tensors are built from raw bytes with a whitelisted
    dtype. CheckpointError (naming the file) on anything wrong."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    try:
        obj = _read_loaded(path)
        _check_structure(obj)
        return _replace_numpy(obj)
    except UnsafeCheckpoint as exc:
        raise CheckpointError(f"{path}: refused as unsafe: it {exc}. Nothing from it was run.") from None
    except CheckpointError:
        raise
    except _Malformed as exc:
        raise CheckpointError(f"{path}: refused: it {exc}") from None
    except RecursionError:
        raise CheckpointError(f"{path}: refused: its structure nests too deep") from None
    except MemoryError:
        raise CheckpointError(f"{path}: refused: reading it needs more memory than there is") from None
    except Exception as exc:  # truncated pickle, garbage bytes, wrong argument types to a rebuild function, ...
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, (pickle.UnpicklingError, EOFError)):
            raise CheckpointError(f"{path}: cannot be read as a PyTorch checkpoint; truncated or damaged? "
                                  f"({text})") from None
        raise CheckpointError(f"{path}: cannot be read as a PyTorch checkpoint; truncated or damaged? "
                              f"({type(exc).__name__}: {text})") from None


# --- Reading, identifying and checking ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConstructorRecord:
    """What the checkpoint's pickled NetConstructor says about how the network was built."""
    fun_name: str | None
    fun_module: str | None
    args: tuple
    kwds: dict

    def describe(self) -> str:
        return f"{self.fun_module}.{self.fun_name}"


@dataclass
class Checkpoint:
    path: Path
    state: dict[str, torch.Tensor]
    constructor: ConstructorRecord | None
    top_level_keys: list[str]
    net_type: str | None = None


def _constructor_record(obj: Any, path: Path) -> ConstructorRecord | None:
    if obj is None:
        return None
    data = getattr(obj, "__dict__", None)
    if not isinstance(data, dict) and isinstance(obj, dict):
        data = obj
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: its 'constructor' entry is a {type(obj).__name__}, not a pytracking "
                              "NetConstructor record")
    fun_name, fun_module = data.get("fun_name"), data.get("fun_module")
    if isinstance(fun_module, str) and fun_module.startswith("dlframework."):
        fun_module = "ltr." + fun_module[len("dlframework."):]
    args = data.get("args", ())
    kwds = data.get("kwds", {})
    return ConstructorRecord(fun_name if isinstance(fun_name, str) else None,
                             fun_module if isinstance(fun_module, str) else None,
                             tuple(args) if isinstance(args, (tuple, list)) else (args,),
                             dict(kwds) if isinstance(kwds, Mapping) else {"<kwds>": kwds})


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Safely load a checkpoint file and pick out its state dict and constructor record."""
    path = Path(path)
    obj = safe_torch_load(path)
    if isinstance(obj, Mapping) and "net" in obj:
        state = obj["net"]
        if not _is_state_dict(state):
            raise CheckpointError(f"{path}: its 'net' entry is not a state dict of named tensors")
        return Checkpoint(path, dict(state), _constructor_record(obj.get("constructor"), path),
                          [str(k) for k in obj.keys()], obj.get("net_type") if isinstance(obj.get("net_type"), str) else None)
    if _is_state_dict(obj):  # a bare state dict (e.g. re-saved weights): identified by its keys
        return Checkpoint(path, dict(obj), None, [])
    what = f"a dict with keys {sorted(map(str, obj.keys()))[:8]}" if isinstance(obj, Mapping) else f"a {type(obj).__name__}"
    raise CheckpointError(f"{path}: not a pytracking checkpoint (expected a dict with a 'net' state dict, found {what})")


# Constructor expectations. `required`: arguments the implementation depends on (must be stated, with this value).
# `if_present`: must have this value when stated (their defaults in the original code match the implementation).
# `ignored`: training-only settings with no effect on inference with loaded weights.
@dataclass(frozen=True)
class _Expectation:
    fun_name: str
    fun_module: str
    required: dict = field(default_factory=dict)
    if_present: dict = field(default_factory=dict)
    ignored: frozenset = frozenset()


_TRAINING_ONLY = frozenset({"backbone_pretrained", "frozen_backbone_layers", "optim_iter", "optim_init_reg",
                            "optim_init_step", "init_gauss_sigma", "mask_init_factor", "detach_length"})
_DIMP_STRUCTURE = {"classification_layer": "layer3", "feat_stride": 16, "init_filter_norm": False,
                   "iou_input_dim": (256, 256), "iou_inter_dim": (256, 256), "act_param": None}

EXPECTATIONS = {
    SUPER_DIMP_SIMPLE: _Expectation(
        "dimpnet50_simple", "ltr.models.tracking.dimpnet",
        required={"filter_size": 4, "clf_feat_norm": True, "clf_feat_blocks": 0, "final_conv": True,
                  "out_feature_dim": 512, "score_act": "relu", "hinge_threshold": 0.05, "activation_leak": 0.1},
        if_present=_DIMP_STRUCTURE,
        ignored=_TRAINING_ONLY | {"num_dist_bins", "bin_displacement", "target_mask_act"}),
    SUPER_DIMP: _Expectation(
        "dimpnet50", "ltr.models.tracking.dimpnet",
        required={"filter_size": 4, "clf_feat_norm": True, "clf_feat_blocks": 0, "final_conv": True,
                  "out_feature_dim": 512, "num_dist_bins": 100, "bin_displacement": 0.1, "score_act": "relu",
                  "target_mask_act": "sigmoid"},
        if_present=_DIMP_STRUCTURE,
        ignored=_TRAINING_ONLY),
    KEEP_TRACK: _Expectation(
        "target_candidate_matching_net_resnet50", "ltr.models.target_candidate_matching.target_candidate_matching",
        if_present={"classification_layer": "layer3", "GNN_layers": ("self", "cross", "self", "cross"),
                    "num_sinkhorn_iterations": 10, "output_normalization": "sinkhorn", "skip_gnn": False},
        ignored=frozenset({"backbone_pretrained", "frozen_backbone_layers"})),
}
_KIND_BY_FUN = {exp.fun_name: kind for kind, exp in EXPECTATIONS.items()}
_KNOWN_OTHERS = {"dimpnet50": None, "dimpnet18": "DiMP-18", "klcedimpnet50": "PrDiMP-50", "klcedimpnet18": "PrDiMP-18",
                 "atom_resnet18": "ATOM", "atom_resnet50": "ATOM", "kysnet_res50": "KYS", "steepest_descent_resnet50": "LWL"}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (list, tuple)) and len(a) == 1:  # ['layer3'] == 'layer3'
        return _same(a[0], b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (type(a) is type(b) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def identify(checkpoint: Checkpoint) -> tuple[str | None, str]:
    """(kind or None, how it was decided)."""
    record = checkpoint.constructor
    if record is not None and record.fun_name is not None:
        kind = _KIND_BY_FUN.get(record.fun_name)
        if kind is not None:
            return kind, f"stored constructor {record.describe()}"
        other = _KNOWN_OTHERS.get(record.fun_name)
        hint = f" (a {other} network)" if other else ""
        return None, f"stored constructor {record.describe()}{hint} is none of the networks KeepTrack uses"
    keys = checkpoint.state.keys()
    if "matcher.bin_score" in keys:
        return KEEP_TRACK, "its keys (no constructor record)"
    if "classifier.filter_optimizer.residual_module.filter_reg" in keys:
        return SUPER_DIMP_SIMPLE, "its keys (no constructor record)"
    if "classifier.filter_optimizer.log_step_length" in keys:
        return SUPER_DIMP, "its keys (no constructor record)"
    return None, "no constructor record and no key that marks a known network"


def check_constructor(record: ConstructorRecord | None, kind: str) -> list[str]:
    """Problems with the stored constructor for `kind` (empty when it matches what tracker.nets implements)."""
    if record is None:
        return []
    exp = EXPECTATIONS[kind]
    problems = []
    if record.fun_name != exp.fun_name or record.fun_module != exp.fun_module:
        problems.append(f"constructor is {record.describe()}, expected {exp.fun_module}.{exp.fun_name}")
    if record.args:
        problems.append(f"constructor has positional arguments {record.args!r}; the implementation assumes none")
    for name, value in exp.required.items():
        if name not in record.kwds:
            problems.append(f"constructor does not state {name}; the implementation assumes {name}={value!r}")
        elif not _same(record.kwds[name], value):
            problems.append(f"constructor has {name}={record.kwds[name]!r}; the implementation assumes {value!r}")
    for name, value in record.kwds.items():
        if name in exp.required or name in exp.ignored:
            continue
        if name in exp.if_present:
            if not _same(value, exp.if_present[name]):
                problems.append(f"constructor has {name}={value!r}; the implementation assumes {exp.if_present[name]!r}")
        else:
            problems.append(f"constructor argument {name}={value!r} is unknown to the implementation")
    return problems


def _expected_state(kind: str) -> dict[str, torch.Tensor]:
    from .nets.association import TargetCandidateMatchingNet
    from .nets.base_net import DiMPNet

    with torch.device("meta"):
        net = TargetCandidateMatchingNet(with_backbone=True) if kind == KEEP_TRACK else DiMPNet(kind)
    return net.state_dict()


def expected_state_shapes(kind: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the module tree tracker.nets builds for `kind` (built on the meta device: no memory)."""
    return {key: tuple(value.shape) for key, value in _expected_state(kind).items()}


def check_state(state: Mapping[str, torch.Tensor], kind: str) -> list[str]:
    """Every missing, unexpected or wrongly shaped entry, and non-finite values. Missing BatchNorm
    `num_batches_tracked` counters are tolerated (older files may lack them; they do not affect inference)."""
    reference = _expected_state(kind)
    expected = {key: tuple(value.shape) for key, value in reference.items()}
    problems = []
    missing = [k for k in expected if k not in state and not k.endswith(".num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    if missing:
        problems.append(f"{len(missing)} missing entries: " + ", ".join(missing))
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected entries: " + ", ".join(unexpected))
    for key, shape in expected.items():
        if key in state and tuple(state[key].shape) != shape:
            problems.append(f"{key} has shape {tuple(state[key].shape)}, expected {shape}")
    for key, value in state.items():
        if key in reference and value.is_floating_point() != reference[key].is_floating_point():
            want = "floating-point" if reference[key].is_floating_point() else "integer"
            problems.append(f"{key} holds {str(value.dtype).replace('torch.', '')} values, expected {want}")
            continue
    for key, value in state.items():
        if key in reference and value.is_floating_point() != reference[key].is_floating_point():
            continue
        # A sum is finite when every element is (the full check only runs when it is not: it is slow).
        if key in expected and value.is_floating_point() and not bool(torch.isfinite(value.sum())):
            if not bool(torch.isfinite(value).all()):
                problems.append(f"{key} contains NaN or infinite values")
    return problems


@dataclass
class CheckpointReport:
    path: Path
    kind: str | None
    how_identified: str
    problems: list[str]

    @property
    def fits(self) -> bool:
        return self.kind is not None and not self.problems

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, "unknown network")


def inspect_checkpoint(path: str | Path) -> CheckpointReport:
    """Say what a file is and whether it fits; CheckpointError only where it cannot be read at all."""
    checkpoint = read_checkpoint(path)
    kind, how = identify(checkpoint)
    if kind is None:
        return CheckpointReport(Path(path), None, how, [how])
    problems = check_constructor(checkpoint.constructor, kind) + check_state(checkpoint.state, kind)
    return CheckpointReport(Path(path), kind, how, problems)


def _checked(path: str | Path, accepted: tuple[str, ...], slot: str) -> tuple[Checkpoint, str]:
    checkpoint = read_checkpoint(path)
    kind, how = identify(checkpoint)
    if kind is None:
        raise CheckpointError(f"{path}: cannot be used as the {slot}: {how}")
    if kind not in accepted:
        wanted = " or ".join(KIND_LABELS[k] for k in accepted)
        raise CheckpointError(f"{path}: this is the {KIND_LABELS[kind]} (from {how}), but the {slot} must be the {wanted}")
    problems = check_constructor(checkpoint.constructor, kind) + check_state(checkpoint.state, kind)
    if problems:
        raise CheckpointError(f"{path}: does not fit the {KIND_LABELS[kind]}:\n  - " + "\n  - ".join(problems))
    return checkpoint, kind


def _assign_state(net: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> torch.nn.Module:
    """Give a module built on the meta device the checkpoint's tensors (cast to the module's dtypes; absent BN
    counters become zeros). Building on meta skips the random initialisation of ~35M parameters."""
    own = net.state_dict()
    values = {}
    for key, ref in own.items():
        value = state.get(key)
        values[key] = torch.zeros(ref.shape, dtype=ref.dtype) if value is None else value.to(ref.dtype).contiguous()
    net.load_state_dict(values, strict=True, assign=True)
    return net


def load_base_net(path: str | Path, variant: str | tuple[str, ...] = SUPER_DIMP_SIMPLE, device: str = "cpu"):
    """The DiMP base network (eval mode) from a checkpoint of `variant` (KeepTrack needs SuperDiMP-Simple)."""
    from .nets.base_net import DiMPNet

    accepted = (variant,) if isinstance(variant, str) else tuple(variant)
    checkpoint, kind = _checked(path, accepted, "base network")
    with torch.device("meta"):
        net = DiMPNet(kind)
    return _assign_state(net, checkpoint.state).to(device).eval()


def load_association_net(path: str | Path, device: str = "cpu", with_backbone: bool = False):
    """KeepTrack's association network (eval mode). Its ResNet-50 is checked but not kept unless asked for: the
    tracker computes descriptors from the base network's layer3."""
    from .nets.association import TargetCandidateMatchingNet

    checkpoint, _ = _checked(path, (KEEP_TRACK,), "association network")
    with torch.device("meta"):
        net = TargetCandidateMatchingNet(with_backbone=with_backbone)
    return _assign_state(net, checkpoint.state).to(device).eval()
