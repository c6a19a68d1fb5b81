"""ultrasim from Python: ctypes over the shared library (libultrasim.so), no build step.

    import ultrasim
    r = ultrasim.run("examples/llama3-405b-h100.yaml", sets=["parallel.pp=16"])
    print(r["step_time_s"], r["mfu"])              # the same keys as `ultrasim run --format json`
    s = ultrasim.search("job.yaml", sets=["parallel={}"], top=5)
    print(s["top"][0]["layout"], s["top"][0]["time_s"])
    c = ultrasim.compare("job.yaml", ["dgx-h100", "gb200-nvl72"])   # {system: run dict}

Every function returns plain dicts. An infeasible plan is a result (valid / fits false,
reason set), not an exception; bad input, out of memory and write errors raise
UltrasimError, whose .status is the CLI's exit code and whose str() is the one-line
diagnostic ("job.yaml:4:7: parallel.tp: ...").

The library is found in $ULTRASIM_LIB, else beside an installed copy of this file
(PREFIX/share/ultrasim/python -> PREFIX/lib), else in build/release or build/dev of the
source tree, else by the system's loader (ctypes.util.find_library).
"""

import ctypes
import ctypes.util
import json
import os
import tempfile

__all__ = ["run", "search", "compare", "UltrasimError", "library_path"]

# enum us_status (include/ultrasim.h)
OK, INFEASIBLE, EINPUT, ENOMEM, EIO = 0, 1, 2, 3, 4
_FORMAT_JSON = 1  # enum us_format: TABLE, JSON, CSV
_OBJECTIVES = {"time": 0, "cost": 1, "energy": 2}
_RECOMPUTE = ["none", "selective", "full"]
_SCHEDULE = ["1f1b", "gpipe", "interleaved"]
_OVERLAP = ["job", "on", "off"]  # enum us_overlap
_PRUNE = ["divisibility", "domain", "invalid", "memory", "dominated", "constraint"]

# struct us_result is large and only ever handled by pointer here (us_result_write turns
# it into JSON), so it gets a buffer comfortably larger than it is (about 10 KiB).
_RESULT_BUFFER_B = 1 << 20


class UltrasimError(Exception):
    """Bad input (status 2), out of memory (3) or a write error (4)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class _Diag(ctypes.Structure):
    _fields_ = [("file", ctypes.c_char * 512), ("line", ctypes.c_int), ("col", ctypes.c_int),
                ("path", ctypes.c_char * 256), ("msg", ctypes.c_char * 512),
                ("status", ctypes.c_int)]


class _RunOptions(ctypes.Structure):
    _fields_ = [("closed_form_only", ctypes.c_bool), ("trace_path", ctypes.c_char_p),
                ("threads", ctypes.c_int), ("trace_force", ctypes.c_bool),
                ("trace_max_B", ctypes.c_size_t)]


class _Layout(ctypes.Structure):
    _fields_ = [("tp", ctypes.c_int), ("pp", ctypes.c_int), ("dp", ctypes.c_int),
                ("cp", ctypes.c_int), ("ep", ctypes.c_int), ("vpp", ctypes.c_int),
                ("zero", ctypes.c_int), ("sequence_parallel", ctypes.c_bool),
                ("recompute", ctypes.c_int), ("schedule", ctypes.c_int),
                ("micro_batch", ctypes.c_int), ("microbatches", ctypes.c_int),
                ("first_stage_layers", ctypes.c_int), ("last_stage_layers", ctypes.c_int),
                ("tp_overlap", ctypes.c_int), ("chosen_mask", ctypes.c_uint)]


_PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64,
                             ctypes.c_uint64)


class _SearchOptions(ctypes.Structure):
    _fields_ = [("objective", ctypes.c_int), ("deadline_s", ctypes.c_double),
                ("budget_usd", ctypes.c_double), ("top_k", ctypes.c_int),
                ("threads", ctypes.c_int), ("chips", ctypes.POINTER(ctypes.c_int64)),
                ("nchips", ctypes.c_size_t), ("closed_form_only", ctypes.c_bool),
                ("tp_beyond_domain", ctypes.c_bool), ("progress", _PROGRESS),
                ("progress_user", ctypes.c_void_p)]


class _SearchEntry(ctypes.Structure):
    _fields_ = [("chips", ctypes.c_int64), ("layout", _Layout), ("engine", ctypes.c_char_p),
                ("step_time_s", ctypes.c_double), ("closed_form_step_time_s", ctypes.c_double),
                ("time_s", ctypes.c_double), ("cost_usd", ctypes.c_double),
                ("energy_J", ctypes.c_double), ("mfu", ctypes.c_double),
                ("peak_memory_B", ctypes.c_double), ("capacity_B", ctypes.c_double),
                ("pareto", ctypes.c_bool)]


class _SearchResult(ctypes.Structure):
    _fields_ = [("ntop", ctypes.c_int), ("top", _SearchEntry * 64), ("npareto", ctypes.c_int),
                ("pareto_truncated", ctypes.c_bool), ("pareto", _SearchEntry * 32),
                ("per_run", ctypes.c_bool), ("objective", ctypes.c_int),
                ("space", ctypes.c_uint64), ("pruned", ctypes.c_uint64 * 6),
                ("estimated", ctypes.c_uint64), ("simulated", ctypes.c_uint64),
                ("enumerate_s", ctypes.c_double), ("estimate_s", ctypes.c_double),
                ("simulate_s", ctypes.c_double), ("total_s", ctypes.c_double),
                ("threads", ctypes.c_int), ("nnotes", ctypes.c_int),
                ("notes", (ctypes.c_char * 512) * 4)]


def library_path():
    """Where the shared library is looked for first (None: left to the system loader)."""
    env = os.environ.get("ULTRASIM_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "..", "..", "..", "lib", "libultrasim.so"),
                 os.path.join(here, "..", "build", "release", "libultrasim.so"),
                 os.path.join(here, "..", "build", "dev", "libultrasim.so")):
        if os.path.exists(cand):
            return os.path.normpath(cand)
    return ctypes.util.find_library("ultrasim")


_lib = None
_libc = None


def _load():
    global _lib, _libc
    if _lib is not None:
        return _lib
    path = library_path()
    if not path:
        raise OSError("libultrasim.so not found: set ULTRASIM_LIB or install ultrasim")
    lib = ctypes.CDLL(path)
    p = ctypes.c_void_p
    lib.us_ctx_create.restype = p
    lib.us_ctx_create.argtypes = []
    lib.us_ctx_destroy.argtypes = [p]
    lib.us_job_load.restype = ctypes.c_int
    lib.us_job_load.argtypes = [p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p),
                                ctypes.c_size_t, ctypes.POINTER(p), ctypes.POINTER(_Diag)]
    lib.us_job_destroy.argtypes = [p]
    lib.us_run.restype = ctypes.c_int
    lib.us_run.argtypes = [p, p, ctypes.POINTER(_RunOptions), p, ctypes.POINTER(_Diag)]
    lib.us_result_write.argtypes = [p, p, ctypes.c_int, p]
    lib.us_search.restype = ctypes.c_int
    lib.us_search.argtypes = [p, p, ctypes.POINTER(_SearchOptions),
                              ctypes.POINTER(_SearchResult), ctypes.POINTER(_Diag)]
    lib.us_diag_format.argtypes = [ctypes.POINTER(_Diag), ctypes.c_char_p, ctypes.c_size_t]
    lib.us_status_name.restype = ctypes.c_char_p
    lib.us_status_name.argtypes = [ctypes.c_int]
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.fopen.restype = p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.restype = ctypes.c_int
    libc.fclose.argtypes = [p]
    _lib, _libc = lib, libc
    return lib


def _raise(lib, st, d):
    buf = ctypes.create_string_buffer(1536)
    lib.us_diag_format(ctypes.byref(d), buf, len(buf))
    msg = buf.value.decode("utf-8", "replace")
    raise UltrasimError(st, msg or lib.us_status_name(st).decode())


class _Session:
    """A context and one loaded job, freed on exit."""

    def __init__(self, job, sets):
        self.lib = _load()
        self.ctx = self.lib.us_ctx_create()
        if not self.ctx:
            raise UltrasimError(ENOMEM, "out of memory")
        self.job = ctypes.c_void_p()
        sets = [s.encode() for s in (sets or [])]
        arr = (ctypes.c_char_p * max(1, len(sets)))(*sets)
        d = _Diag()
        st = self.lib.us_job_load(self.ctx, os.fsencode(job), arr, len(sets),
                                  ctypes.byref(self.job), ctypes.byref(d))
        if st != OK:
            self.close()
            _raise(self.lib, st, d)

    def close(self):
        if self.job:
            self.lib.us_job_destroy(self.job)
            self.job = ctypes.c_void_p()
        if self.ctx:
            self.lib.us_ctx_destroy(self.ctx)
            self.ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _result_dict(s, result):
    """The result as `ultrasim run --format json` writes it, through a temporary file."""
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        f = _libc.fopen(os.fsencode(path), b"w")
        if not f:
            raise UltrasimError(EIO, "cannot write a temporary file: " + path)
        s.lib.us_result_write(result, s.job, _FORMAT_JSON, f)
        if _libc.fclose(f) != 0:
            raise UltrasimError(EIO, "cannot write a temporary file: " + path)
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    finally:
        os.remove(path)


def run(job, sets=None, closed_form=False, threads=0):
    """One training step (and the whole run with training.tokens): a dict with the keys of
    `ultrasim run --format json` (step_time_s, mfu, memory, energy, ...)."""
    with _Session(job, sets) as s:
        result = ctypes.create_string_buffer(_RESULT_BUFFER_B)
        opt = _RunOptions(closed_form_only=closed_form, threads=threads)
        d = _Diag()
        st = s.lib.us_run(s.ctx, s.job, ctypes.byref(opt), result, ctypes.byref(d))
        if st not in (OK, INFEASIBLE):
            _raise(s.lib, st, d)
        return _result_dict(s, result)


def _layout_dict(l):
    return {"tp": l.tp, "pp": l.pp, "dp": l.dp, "cp": l.cp, "ep": l.ep, "vpp": l.vpp,
            "zero": l.zero, "sequence_parallel": bool(l.sequence_parallel),
            "recompute": _RECOMPUTE[l.recompute] if 0 <= l.recompute < 3 else l.recompute,
            "schedule": _SCHEDULE[l.schedule] if 0 <= l.schedule < 3 else l.schedule,
            "micro_batch": l.micro_batch, "microbatches": l.microbatches,
            "first_stage_layers": l.first_stage_layers,
            "last_stage_layers": l.last_stage_layers,
            "tp_overlap": _OVERLAP[l.tp_overlap] if 0 <= l.tp_overlap < 3 else l.tp_overlap}


def _entry_dict(e):
    return {"chips": e.chips, "layout": _layout_dict(e.layout),
            "engine": e.engine.decode() if e.engine else None,
            "step_time_s": e.step_time_s, "closed_form_step_time_s": e.closed_form_step_time_s,
            "time_s": e.time_s, "cost_usd": e.cost_usd,
            "energy_J": e.energy_J if e.energy_J > 0 else None, "mfu": e.mfu,
            "peak_memory_B": e.peak_memory_B, "capacity_B": e.capacity_B,
            "pareto": bool(e.pareto)}


def search(job, sets=None, objective="time", top=8, chips=None, deadline_s=0.0,
           budget_usd=0.0, closed_form=False, threads=0):
    """The best layouts for the fields the job leaves open: {"top": [...best first],
    "pareto": [...], "space", "pruned", "estimated", "simulated", "notes", ...}. Each entry
    has chips, layout (dict), step_time_s, time_s, cost_usd, energy_J, mfu, peak_memory_B."""
    if objective not in _OBJECTIVES:
        raise UltrasimError(EINPUT, "objective must be time, cost or energy, not %r" % objective)
    with _Session(job, sets) as s:
        out = _SearchResult()
        arr = None
        opt = _SearchOptions(objective=_OBJECTIVES[objective], deadline_s=deadline_s,
                             budget_usd=budget_usd, top_k=top, threads=threads,
                             closed_form_only=closed_form)
        if chips:
            arr = (ctypes.c_int64 * len(chips))(*chips)
            opt.chips = ctypes.cast(arr, ctypes.POINTER(ctypes.c_int64))
            opt.nchips = len(chips)
        d = _Diag()
        st = s.lib.us_search(s.ctx, s.job, ctypes.byref(opt), ctypes.byref(out),
                             ctypes.byref(d))
        if st not in (OK, INFEASIBLE):
            _raise(s.lib, st, d)
        return {
            "objective": objective,
            "per_run": bool(out.per_run),
            "top": [_entry_dict(out.top[i]) for i in range(out.ntop)],
            "pareto": [_entry_dict(out.pareto[i]) for i in range(out.npareto)],
            "pareto_truncated": bool(out.pareto_truncated),
            "space": out.space,
            "pruned": {name: out.pruned[i] for i, name in enumerate(_PRUNE)},
            "estimated": out.estimated,
            "simulated": out.simulated,
            "threads": out.threads,
            "notes": [out.notes[i].value.decode("utf-8", "replace")
                      for i in range(out.nnotes)],
        }


def compare(job, systems, sets=None, closed_form=False):
    """The same job on several systems at the job's chip count: {system: run dict}. (The
    CLI's `compare` also prices each at equal hourly spend; that table is not here.)"""
    return {name: run(job, sets=list(sets or []) + ["system=" + name],
                      closed_form=closed_form)
            for name in systems}
