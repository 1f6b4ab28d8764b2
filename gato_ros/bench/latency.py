"""`gato-ros bench`: per-control-step latency (1 timestep prefill + 8 action tokens) at a full context.

Variants per config (random weights): PyTorch eager recomputing the window for every action token (naive),
PyTorch with a KV cache, ONNX Runtime with a KV cache (GatoPolicy) with fp32, int8 and int4 graphs, and those
again as a timestep-banded model (`*_band`: `attention_timesteps` as wide as the context holds, so the cache rolls
one timestep per step instead of being prefilled again every ~half window);
plus the memory-bandwidth bound of a cached step measured on this machine, and a roofline bound that also
counts the prefill's FLOPs at the machine's measured GEMM throughput.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gato_ros.bench.bandwidth import (
    measure_bandwidth, measure_gemm_flops, roofline_step_s, step_bound_s, streamed_weight_bytes,
)
from gato_ros.config import PRECISIONS
from gato_ros.interfaces import PROPRIO_SIZE
from gato_ros.runtime.window import TimestepWindow
from gato_ros.tokenizer import TokenSequence, concat

ORT = tuple(f"ort_{p}" for p in PRECISIONS)  # the unbanded ONNX Runtime variants, one per export precision
VARIANTS = ("torch_naive", "torch_cache", *ORT, *(f"{v}_band" for v in ORT))
DEFAULT_REPS = {"tiny": 200, "small": 100, "79m": 40, "364m": 30, "1.18b": 20}
DEFAULT_NAIVE_REPS = {"tiny": 30, "small": 10, "79m": 3, "364m": 1, "1.18b": 1}


@dataclass(frozen=True)
class BenchOptions:
    """What to measure and how often."""

    configs: tuple[str, ...] = ("tiny", "small", "79m")
    variants: tuple[str, ...] = VARIANTS
    reps: int | None = None  # None: DEFAULT_REPS per config
    naive_reps: int | None = None
    context: int = 1024
    threads: int = 0  # 0: ORT/torch defaults (all cores)
    with_sim: bool = False
    peer: bool = False  # also the same-shape HF transformers GPT-2 with its KV cache (gato_ros.bench.peer)
    provider: str = "cpu"  # ONNX Runtime provider of the ort_* variants: cpu, cuda or auto
    out_dir: Path = Path("benchmarks/results")


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50/p90/p99/mean in milliseconds."""
    a = np.asarray(samples_s) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)),
            "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean()), "n": int(a.size)}


def _inputs(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(0, 256, (*size, 3), dtype=np.uint8), rng.normal(size=PROPRIO_SIZE)


class PassTimes:
    """Wall time of each prefill and decode pass of a KVRunner (the bench wraps the runner's two methods; on CUDA
    each pass ends with its logits copied to the host, so the wall time includes the device work)."""

    def __init__(self, runner: Any) -> None:
        self.times: dict[str, list[float]] = {"prefill": [], "decode": []}
        for name, out in self.times.items():
            setattr(runner, name, self._timed(getattr(runner, name), out))

    @staticmethod
    def _timed(fn: Callable[..., Any], out: list[float]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            result = fn(*args, **kwargs)
            out.append(time.perf_counter() - t0)
            return result
        return timed

    def clear(self) -> None:
        for out in self.times.values():
            out.clear()

    def summary(self) -> dict[str, float]:
        """p50/p99 of each pass kind in ms (the prefill p99 includes the steps that re-prefill after an eviction)."""
        out: dict[str, float] = {}
        for name, samples in self.times.items():
            if samples:
                out[f"{name}_p50_ms"] = float(np.percentile(samples, 50) * 1e3)
                out[f"{name}_p99_ms"] = float(np.percentile(samples, 99) * 1e3)
        return out


class StepClock:
    """One variant's control loop: fills the context once (`fill_step`, default `step`, until `fill()` says it is
    full; then `on_full()`), after which each call times one step. Variants built this way take turns step by step,
    so a shared machine's drifting speed hits them alike."""

    def __init__(self, step: Callable[..., Any], fill: Callable[[], bool], size: tuple[int, int], seed: int = 0,
                 fill_step: Callable[..., Any] | None = None, on_full: Callable[[], None] | None = None) -> None:
        self.step, self.size = step, size
        self.rng = np.random.default_rng(seed)
        for _ in range(10_000):
            if fill():
                break
            (fill_step or step)(*_inputs(self.rng, size))
        if on_full is not None:
            on_full()

    def __call__(self) -> float:
        """Seconds of one step on fresh random inputs."""
        image, proprio = _inputs(self.rng, self.size)
        t0 = time.perf_counter()
        self.step(image, proprio)
        return time.perf_counter() - t0


def time_steps(step: Callable[..., Any], fill: Callable[[], bool], reps: int, size: tuple[int, int],
               seed: int = 0, fill_step: Callable[..., Any] | None = None,
               on_full: Callable[[], None] | None = None) -> list[float]:
    """Fill the context, then time `reps` steps of one variant on its own (StepClock)."""
    clock = StepClock(step, fill, size, seed, fill_step, on_full)
    return [clock() for _ in range(reps)]


class TorchPolicy:
    """GatoPolicy.act's algorithm in PyTorch eager (argmax decoding) over the tokenizer's blocks: with a KV cache
    (`cached`), or recomputing the whole window for every action token (naive; the reference for the ONNX cache)."""

    def __init__(self, model: Any, tokenizer: Any, n_actions: int, context: int, cached: bool) -> None:
        import torch

        self.torch, self.model, self.tok = torch, model.eval(), tokenizer
        self.n_actions, self.cached = n_actions, cached
        self.window = TimestepWindow(context)
        self.value_start = tokenizer.vocab.continuous_offset
        self._actions = tokenizer.action_block(np.zeros(n_actions, np.int64))  # template: one row per dimension
        c = model.config
        self.k = self.v = torch.zeros(c.n_layer, 1, c.n_head, 0, c.head_dim)
        self.steps: list[TokenSequence] = []  # naive: the tokens of each timestep in the window
        self.pending: TokenSequence | None = None  # cached: the last action token, not in the cache yet
        self.last_logits = np.zeros((n_actions, tokenizer.vocab.num_bins), np.float32)

    def _forward(self, block: TokenSequence, k: Any, v: Any) -> tuple[Any, Any, Any]:
        """Gato over a block after cache (k, v): value logits at its last position and the grown cache."""
        t = self.torch
        inputs = [t.from_numpy(np.ascontiguousarray(getattr(block, f), dtype))[None]
                  for f, dtype in (("tokens", np.int64), ("modality", np.int64), ("local_pos", np.int64),
                                   ("patches", np.float32), ("patch_pos", np.float32))]
        h, k, v = self.model.transformer(self.model.embed(*inputs), k, v)
        return self.model.action_logits(h[:, -1:])[:, -1], k, v

    def _action(self, value_bin: int, dim: int) -> TokenSequence:
        """The action token of dimension `dim` with value bin `value_bin`."""
        token = self._actions[dim:dim + 1]
        token.tokens = np.array([self.value_start + value_bin], np.int64)
        return token

    def act(self, image: np.ndarray, proprio: np.ndarray, dry: bool = False) -> np.ndarray:
        """One control step; returns the value bins. `dry` (naive only) appends action tokens without computing
        (a fast fill)."""
        obs = self.tok.observation(image, proprio)
        dropped, n_steps = self.window.evict_for(len(obs) + self.n_actions)
        if dropped and self.cached:
            phys = dropped - 1 if (self.pending is not None and not self.window.steps) else dropped
            if phys != dropped:
                self.pending = None
            self.k, self.v = self.k[:, :, :, phys:].contiguous(), self.v[:, :, :, phys:].contiguous()
        del self.steps[:n_steps]
        self.window.begin_timestep(len(obs))
        bins = np.empty(self.n_actions, np.int64)
        with self.torch.inference_mode():
            if self.cached:  # the previous timestep's last action goes in with this observation
                block = obs if self.pending is None else concat([self.pending, obs])
                logits, self.k, self.v = self._forward(block, self.k, self.v)
                for i in range(self.n_actions):
                    self.last_logits[i] = logits[0].numpy()
                    bins[i] = int(logits.argmax())
                    if i + 1 < self.n_actions:
                        logits, self.k, self.v = self._forward(self._action(int(bins[i]), i), self.k, self.v)
                self.pending = self._action(int(bins[-1]), self.n_actions - 1)
            else:
                self.steps.append(obs)
                empty = self.k[:, :, :, :0]
                for i in range(self.n_actions):
                    if dry:
                        bins[i] = i
                    else:
                        logits, _, _ = self._forward(concat(self.steps), empty, empty)
                        self.last_logits[i] = logits[0].numpy()
                        bins[i] = int(logits.argmax())
                    self.steps[-1] = concat([self.steps[-1], self._action(int(bins[i]), i)])
        self.window.extend(self.n_actions)
        return bins


def _sim_loop(stop: Any, steps: Any) -> None:
    """Step MuJoCo as fast as it goes until `stop` is set (load on the CPU like the sim node); counts steps."""
    try:
        from gato_ros.sim import StackingEnv

        env = StackingEnv()
        env.reset(0)
        zeros = np.zeros(8)
        while not stop.is_set():
            env.step(zeros)
            steps.value += 1
    except ImportError:
        import mujoco

        xml = "<mujoco><worldbody>" + "".join(
            f'<body pos="0 0 {0.2 * i + 0.1}"><freejoint/><geom size=".05"/></body>' for i in range(20)) + \
            '<geom type="plane" size="1 1 .1"/></worldbody></mujoco>'
        model = mujoco.MjModel.from_xml_string(xml)
        data = mujoco.MjData(model)
        while not stop.is_set():
            mujoco.mj_step(model, data)
            steps.value += 1
            if data.time > 5:
                mujoco.mj_resetData(model, data)


class SimLoad:
    """Context manager running `_sim_loop` in a background process."""

    def __enter__(self) -> "SimLoad":
        ctx = mp.get_context("fork")  # the child only uses MuJoCo; fork avoids re-importing __main__
        self.stop, self.steps = ctx.Event(), ctx.Value("q", 0, lock=False)
        self.proc = ctx.Process(target=_sim_loop, args=(self.stop, self.steps), daemon=True)
        self.proc.start()
        time.sleep(3.0)  # let it build the scene
        self.t0, self.n0 = time.perf_counter(), self.steps.value
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()

    def rate(self) -> float:
        """Sim steps per second since the start of the measurement."""
        return (self.steps.value - self.n0) / max(time.perf_counter() - self.t0, 1e-9)


@dataclass(frozen=True)
class MachineLimits:
    """Measured once per bench run: copy bandwidth and ONNX Runtime GEMM throughputs."""

    bandwidth: float  # bytes/s
    flops_fp32: float  # FLOP/s
    flops_int8: float


def measure_limits(threads: int) -> MachineLimits:
    return MachineLimits(measure_bandwidth(), measure_gemm_flops(threads=threads),
                         measure_gemm_flops(int8=True, threads=threads))


def bench_config(name: str, opts: BenchOptions, limits: MachineLimits, log: Callable[[str], None],
                 skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """All requested variants of one config; returns its JSON record."""
    import torch

    from gato_ros.export.build import random_model
    from gato_ros.export.graphs import cache_shape
    from gato_ros.export.onnx_export import write_model_dir, model_config_dict
    from gato_ros.runtime.policy import GatoPolicy

    from gato_ros.config import default_config

    if opts.threads:
        torch.set_num_threads(opts.threads)
    model, model_cfg = random_model(name, seed=0)
    n_layer, n_head, head_dim = cache_shape(model)
    kv_per_token = 2 * n_layer * n_head * head_dim * 4
    reps = opts.reps or DEFAULT_REPS.get(name, 30)
    naive_reps = opts.naive_reps or DEFAULT_NAIVE_REPS.get(name, 3)
    record: dict[str, Any] = {"params": int(sum(p.numel() for p in model.parameters())),
                              "model_config": model_config_dict(model_cfg), "kv_bytes_per_token": kv_per_token,
                              "context_tokens": opts.context, "variants": {}}
    passes = 8  # 1 prefill (previous last action + observation) + 7 decodes; see GatoPolicy.act
    bandwidth = limits.bandwidth
    with tempfile.TemporaryDirectory() as tmp:
        dirs: dict[str, Path] = {}
        for variant in ORT:
            if variant in opts.variants or (variant == "ort_fp32"):
                dirs[variant] = write_model_dir(model, default_config(), Path(tmp) / variant,
                                                precision=variant[4:], model_cfg=model_cfg)
        for variant in ORT:
            if variant in dirs:
                w = streamed_weight_bytes(dirs[variant] / "decode.onnx")
                record[f"weight_bytes_{variant[4:]}"] = w
                record[f"bound_ms_{variant[4:]}"] = 1e3 * step_bound_s(w, kv_per_token, opts.context, passes, bandwidth)
        policy0 = GatoPolicy(dirs["ort_fp32"], provider="cpu", max_context_tokens=opts.context, threads=opts.threads)
        size = policy0.config.tokenizer.image_size
        tok, n_actions = policy0.tokenizer, policy0.n_actions
        obs = tok.observation(*_inputs(np.random.default_rng(0), size))
        block, patches = len(obs) + 1, int(obs.is_image.sum())  # + the previous action token
        record["prefill_block"] = {"tokens": block, "image_patches": patches}
        band = (opts.context - 1) // (len(obs) + n_actions) - 1  # band timesteps + the token before them fit
        record["band_timesteps"] = band
        for variant in ORT:
            if f"{variant}_band" in opts.variants:  # the same weights; only gato.json's attention_timesteps differs
                dirs[f"{variant}_band"] = write_model_dir(
                    model, default_config(), Path(tmp) / f"{variant}_band", precision=variant[4:],
                    model_cfg=dataclasses.replace(model_cfg, attention_timesteps=band))
        for variant in ORT:
            if variant not in dirs:
                continue
            key, w = variant[4:], record[f"weight_bytes_{variant[4:]}"]
            flops_linear = limits.flops_fp32 if key == "fp32" else limits.flops_int8  # int4 computes in int8
            record[f"roofline_ms_{key}"] = 1e3 * roofline_step_s(
                model_cfg, w, kv_per_token, opts.context, block, patches, bandwidth, flops_linear, limits.flops_fp32,
                decodes=passes - 1)
        clocks: dict[str, tuple[StepClock, PassTimes | None, Any]] = {}
        for variant in opts.variants:
            if variant in skip or (variant.startswith("ort") and variant not in dirs):
                continue
            t0 = time.perf_counter()
            if variant == "torch_naive":  # seconds per step: timed on its own with fewer steps
                tp = TorchPolicy(model, tok, n_actions, opts.context, cached=False)
                samples = time_steps(tp.act, lambda w=tp.window: _full(w), naive_reps, size,
                                     fill_step=lambda i, p, tp=tp: tp.act(i, p, dry=True))
                record["variants"][variant] = {**percentiles(samples), "samples_ms": [round(x * 1e3, 3)
                                                                                     for x in samples]}
                _log_variant(log, name, variant, record["variants"][variant], time.perf_counter() - t0)
            elif variant.startswith("ort"):
                pol = GatoPolicy(dirs[variant], provider=opts.provider, max_context_tokens=opts.context,
                                 threads=opts.threads)
                record.setdefault("providers", {})[variant] = pol.provider
                timer = PassTimes(pol.runner)
                full = (lambda p=pol: len(p.window.steps) > p.band) if pol.band else (lambda w=pol.window: _full(w))
                clocks[variant] = (StepClock(pol.act, full, size, on_full=lambda t=timer, p=pol: _start_timing(t, p)),
                                   timer, pol)
            else:
                tp = TorchPolicy(model, tok, n_actions, opts.context, cached=True)
                clocks[variant] = (StepClock(tp.act, lambda w=tp.window: _full(w), size), None, None)
        samples_of: dict[str, list[float]] = {v: [] for v in clocks}
        t0 = time.perf_counter()
        for _ in range(reps):  # the variants take turns, one step each
            for variant, (clock, _, _) in clocks.items():
                samples_of[variant].append(clock())
        record["interleaved"] = sorted(clocks)
        for variant, (_, timer, pol) in clocks.items():
            samples = samples_of[variant]
            stats = {**percentiles(samples), **(timer.summary() if timer else {}),
                     "samples_ms": [round(x * 1e3, 3) for x in samples]}
            if pol is not None:
                stats["reprefills"] = pol.reprefills  # over the timed steps
            record["variants"][variant] = stats
            _log_variant(log, name, variant, stats, time.perf_counter() - t0)
        if opts.peer:
            from gato_ros.bench.peer import PEER_VARIANT, PeerGPT2

            peer = PeerGPT2(model_cfg, opts.context, block, n_actions - 1)
            record["peer"] = {"what": "transformers GPT2LMHeadModel, same blocks/heads/width/feed-forward/vocab, "
                                      "DynamicCache, greedy, logits_to_keep=1", "params": peer.params,
                              "attention": peer.attention}
            t0 = time.perf_counter()
            samples = time_steps(peer.act, lambda: True, reps, size)
            record["variants"][PEER_VARIANT] = {**percentiles(samples), "samples_ms": [round(x * 1e3, 3)
                                                                                     for x in samples]}
            stats = record["variants"][PEER_VARIANT]
            log(f"{name:>5} {PEER_VARIANT:<12} p50 {stats['p50_ms']:8.1f} ms  p99 {stats['p99_ms']:8.1f} ms  "
                f"({reps} steps, {time.perf_counter() - t0:.0f} s)")
    return record


def _log_variant(log: Callable[[str], None], name: str, variant: str, stats: dict[str, Any], seconds: float) -> None:
    """One line per measured variant: p50/p99, steps and wall time."""
    log(f"{name:>5} {variant:<13} p50 {stats['p50_ms']:8.1f} ms  p99 {stats['p99_ms']:8.1f} ms  "
        f"({stats['n']} steps, {seconds:.0f} s)")


def _start_timing(timer: PassTimes, policy: Any) -> None:
    """The context is full: forget the filling steps' pass times and re-prefills."""
    timer.clear()
    policy.reprefills = 0


def _full(window: TimestepWindow) -> bool:
    """The next timestep will evict: the context is at its limit."""
    return bool(window.steps) and window.total + window.steps[-1] > window.max_tokens


def _ratios(record: dict[str, Any], naive: float | None) -> None:
    """Speed-up over the naive p50 (measured without the sim) and over the peer's p50 (same condition), ratios to
    the bandwidth and roofline bounds."""
    from gato_ros.bench.peer import PEER_VARIANT

    peer = record["variants"].get(PEER_VARIANT, {}).get("p50_ms")
    for variant, stats in record["variants"].items():
        if peer:
            stats["speedup_vs_peer_p50"] = peer / stats["p50_ms"]
        key = variant[4:].removesuffix("_band") if variant.startswith("ort") else "fp32"
        bound, roof = record.get(f"bound_ms_{key}"), record.get(f"roofline_ms_{key}")
        stats["speedup_vs_naive_p50"] = naive / stats["p50_ms"] if naive else None
        stats["ratio_to_bound_p50"] = stats["p50_ms"] / bound if bound else None
        stats["ratio_to_roofline_p50"] = stats["p50_ms"] / roof if roof else None


def machine() -> dict[str, Any]:
    """What ran the bench."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime
    import torch

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "torch_threads": torch.get_num_threads()}


def run_bench(opts: BenchOptions, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure everything, write bench.json and the histogram PNG under opts.out_dir; returns the results."""
    limits = measure_limits(opts.threads)
    log(f"memory bandwidth (numpy copy, read+write): {limits.bandwidth / 1e9:.1f} GB/s; ONNX Runtime GEMM "
        f"1024^3: fp32 {limits.flops_fp32 / 1e9:.0f} GFLOP/s, int8 {limits.flops_int8 / 1e9:.0f} GOP/s")
    results: dict[str, Any] = {"machine": {**machine(), "bandwidth_GBps": limits.bandwidth / 1e9,
                                           "gemm_fp32_GFLOPs": limits.flops_fp32 / 1e9,
                                           "gemm_int8_GOPs": limits.flops_int8 / 1e9},
                               "definition": "one control step = prefill of one timestep (previous step's last action "
                                             "token + observation block) + 7 decodes = 8 action tokens, at a full "
                                             f"{opts.context}-token context; random weights; greedy",
                               "conditions": {}}
    conditions = [("no_sim", False)] + ([("with_sim", True)] if opts.with_sim else [])
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    results["complete"] = False
    for label, sim in conditions:
        log(f"-- {label} (load average before: {os.getloadavg()[0]:.2f})")
        results.setdefault("load_average_1min", {})[f"{label}_start"] = os.getloadavg()[0]
        records = results["conditions"].setdefault(label, {})
        load = SimLoad().__enter__() if sim else None
        try:
            for name in opts.configs:  # naive is minutes per config: measured without the sim only
                records[name] = bench_config(name, opts, limits, log, skip=("torch_naive",) if sim else ())
                _write(results, opts.out_dir)  # partial results survive an interrupted run
            if load is not None:
                if load.rate() <= 0 or not load.proc.is_alive():
                    raise RuntimeError("the background MuJoCo loop did not run")
                results["sim_steps_per_s"] = load.rate()
                log(f"background sim: {load.rate():.0f} steps/s")
        finally:
            if load is not None:
                load.__exit__(None, None, None)
        results["load_average_1min"][f"{label}_end"] = os.getloadavg()[0]
    results["complete"] = True
    _write(results, opts.out_dir)
    return results


def _write(results: dict[str, Any], out_dir: Path) -> None:
    """bench.json with speed-ups relative to the naive p50 measured without the sim."""
    naive = results["conditions"].get("no_sim", {})
    for recs in results["conditions"].values():
        for name, rec in recs.items():
            _ratios(rec, naive.get(name, {}).get("variants", {}).get("torch_naive", {}).get("p50_ms"))
    (out_dir / "bench.json").write_text(json.dumps(results, indent=2))
    plot_histograms(results, out_dir / "bench_latency.png")

def plot_histograms(results: dict[str, Any], path: Path) -> None:
    """Latency histograms (log x) per config: one curve per variant and condition, bounds as vertical lines."""
    from gato_ros.bench.peer import PEER_VARIANT

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = results["conditions"]
    configs = list(dict.fromkeys(c for rec in conds.values() for c in rec))
    fig, axes = plt.subplots(1, len(configs), figsize=(5.5 * len(configs), 4), squeeze=False)
    for ax, cfg in zip(axes[0], configs):
        lo, hi = np.inf, 0.0
        for recs in conds.values():
            for s in recs.get(cfg, {}).get("variants", {}).values():
                lo, hi = min(lo, min(s["samples_ms"])), max(hi, max(s["samples_ms"]))
        bins = np.geomspace(lo * 0.9, hi * 1.1, 60)
        for j, (label, recs) in enumerate(conds.items()):
            rec = recs.get(cfg)
            for i, v in enumerate(VARIANTS + (PEER_VARIANT,)):
                s = (rec or {}).get("variants", {}).get(v)
                if s:
                    ax.hist(s["samples_ms"], bins=bins, histtype="step", color=f"C{i}", ls="-" if j == 0 else "--",
                            label=f"{v} ({label}) p50 {s['p50_ms']:.1f}")
            if rec and j == 0:
                for key, style in zip(PRECISIONS, ("--", ":", "-.")):
                    if f"bound_ms_{key}" in rec:
                        ax.axvline(rec[f"bound_ms_{key}"], ls=style, color="gray", label=f"{key} bandwidth bound")
                    if f"roofline_ms_{key}" in rec:
                        ax.axvline(rec[f"roofline_ms_{key}"], ls=style, color="black", label=f"{key} roofline")
        ax.axvline(50, color="red", lw=0.8, label="20 Hz period")
        ax.set_xscale("log")
        ax.set_xlabel("ms per control step")
        ax.set_ylabel("steps")
        ax.set_title(f"{cfg}: 1 timestep + 8 action tokens, full context")
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_table(results: dict[str, Any]) -> str:
    """Markdown table: p50/p90/p99, speed-up over naive, ratios to the bandwidth and roofline bounds."""
    lines = ["| condition | config | variant | p50 ms | p90 ms | p99 ms | x faster than naive | x faster than peer "
             "| / bandwidth bound | / roofline |", "|---|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda x, spec: format(x, spec) if x else "-"  # noqa: E731
    for cond, recs in results["conditions"].items():
        for cfg, rec in recs.items():
            for v, s in rec["variants"].items():
                lines.append(f"| {cond} | {cfg} | {v} | {s['p50_ms']:.1f} | {s['p90_ms']:.1f} | {s['p99_ms']:.1f} "
                             f"| {fmt(s.get('speedup_vs_naive_p50'), '.1f')} "
                             f"| {fmt(s.get('speedup_vs_peer_p50'), '.2f')} "
                             f"| {fmt(s.get('ratio_to_bound_p50'), '.2f')} "
                             f"| {fmt(s.get('ratio_to_roofline_p50'), '.2f')} |")
            for key in PRECISIONS:
                if f"bound_ms_{key}" in rec:
                    lines.append(f"| {cond} | {cfg} | bounds {key}: bandwidth / roofline | {rec[f'bound_ms_{key}']:.1f}"
                                 f" / {rec.get(f'roofline_ms_{key}', 0):.1f} | | | | | | |")
    return "\n".join(lines)
