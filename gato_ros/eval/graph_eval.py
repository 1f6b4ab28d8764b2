"""`gato-ros eval`: run the stacking graph over held-out seeds and object sets, with and without a prompt."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from gato_ros.eval.stages import STAGES, ConditionResult, EpisodeOutcome, aggregate, best_stage
from gato_ros.eval.stats import format_rate
from gato_ros.launch_runner.runner import Runner, RunOptions, interventions_from

TEST_SETS: tuple[str, ...] = tuple(f"rgb_test_triplet{i}" for i in range(1, 6))
DEFAULT_SETS: tuple[str, ...] = ("rgb_train_random",) + TEST_SETS
HELDOUT_SEED = 100_000  # demos are generated from seeds below this


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate: the model, episodes per condition, object sets, prompt, cell and where results go."""

    model_dir: Path
    episodes: int = 2
    object_sets: tuple[str, ...] = DEFAULT_SETS
    prompt_demo: Path | None = None
    seed: int = HELDOUT_SEED
    cell: str = "primitive"
    episode_s: float = 20.0  # 400 control steps at 20 Hz
    out_dir: Path = Path("eval_results")
    status: bool = False  # the runner's status line (on a terminal)
    randomization: str = ""  # the sim's domain randomization (launch argument randomization); empty = none


class EvalRunner(Runner):
    """The graph runner, driving episodes itself to record the furthest stage each episode reached."""

    def __init__(self, values: dict[str, str], options: RunOptions, object_set: str, seed: int, prompt: bool) -> None:
        super().__init__(values, options)
        self.object_set, self.seed, self.prompt = object_set, seed, prompt
        self.outcomes: list[EpisodeOutcome] = []

    def _episode(self, monitor, index: int):  # noqa: ANN001 - GraphMonitor
        self._seen: list[str] = []
        result = super()._episode(monitor, index)
        # the sim's first episode is its start-up one; each ~/reset advances the seed by one
        self.outcomes.append(EpisodeOutcome(self.object_set, self.seed + index + 1, self.prompt, result.success,
                                            "stacked" if result.success else best_stage(self._seen),
                                            result.duration_s))
        print(f"[eval] {self.object_set} prompt={self.prompt} episode {index}: furthest stage "
              f"{self.outcomes[-1].best_stage}", flush=True)
        return result

    def _episode_tick(self, monitor, since: float) -> bool:  # noqa: ANN001
        stage = monitor.latest("sim").get("stage")
        if stage:
            self._seen.append(stage)
        return super()._episode_tick(monitor, since)


def _config_dir(base: Path, folder: Path, object_set: str, seed: int, cell: str) -> Path:
    """A copy of the parameter files with the sim's object set, first seed and cell replaced."""
    shutil.copytree(base, folder, dirs_exist_ok=True)
    sim_file = folder / "sim.yaml"
    data = yaml.safe_load(sim_file.read_text())
    data["sim"]["ros__parameters"].update({"object_set": object_set, "seed": seed, "cell": cell})
    sim_file.write_text(yaml.safe_dump(data))
    return folder


def evaluate(cfg: EvalConfig) -> dict:
    """Run every (prompt, object set) condition; write results.json and a plot; return the results."""
    from gato_ros import paths

    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    prompts = [False] + ([True] if cfg.prompt_demo else [])
    results: list[ConditionResult] = []
    episodes: list[EpisodeOutcome] = []
    with tempfile.TemporaryDirectory(prefix="gato_eval_") as tmp:
        for k, object_set in enumerate(cfg.object_sets):
            seed = cfg.seed + 1000 * k
            conf = _config_dir(paths.config_dir(), Path(tmp) / object_set, object_set, seed, cfg.cell)
            for prompt in prompts:
                values = {"sim": "true", "model": str(cfg.model_dir),
                          "prompt_demo": str(cfg.prompt_demo) if prompt else "", "randomization": cfg.randomization}
                log_dir = cfg.out_dir / "logs" / f"{object_set}_{'prompt' if prompt else 'noprompt'}"
                options = RunOptions(episodes=cfg.episodes, duration_s=cfg.episode_s, config_dir=conf, log_dir=log_dir,
                                     status=cfg.status)
                runner = EvalRunner(values, options, object_set, seed, prompt)
                summary = runner.run()
                if summary.early_exits:
                    raise RuntimeError(f"nodes exited early during evaluation: {summary.early_exits} "
                                       f"(logs in {options.log_dir})")
                if not runner.outcomes:
                    raise RuntimeError(f"no episode ran for {object_set} (interrupted: {summary.interrupted})")
                episodes += runner.outcomes
                results.append(aggregate(runner.outcomes, summary.agent, interventions_from(summary.safety)))
                r = results[-1]
                print(f"[eval] {object_set} prompt={prompt}: success {format_rate(r.successes, r.episodes)} "
                      f"(95% Wilson) stages {r.stage_rates}", flush=True)
    out = {
        "model_dir": str(cfg.model_dir), "cell": cfg.cell, "episodes_per_condition": cfg.episodes,
        "randomization": cfg.randomization or "none",
        "prompt_demo": str(cfg.prompt_demo) if cfg.prompt_demo else None,
        "conditions": [r.to_json() for r in results],
        "episodes": [e.__dict__ for e in episodes],
    }
    (cfg.out_dir / "results.json").write_text(json.dumps(out, indent=2))
    plot(results, cfg.out_dir / "results.png")
    return out


def plot(results: list[ConditionResult], path: Path) -> None:
    """Grouped bars: share of episodes reaching each stage, per object set and prompt condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [s for s in STAGES if s != "none"]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(results)), 4))
    width = 0.8 / len(stages)
    for j, stage in enumerate(stages):
        ax.bar([i + j * width for i in range(len(results))], [r.stage_rates[stage] for r in results], width,
               label=stage)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(results))])
    ax.set_xticklabels([f"{r.object_set.replace('rgb_', '')}\n{'prompt' if r.prompt else 'no prompt'}"
                        for r in results], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of episodes reaching stage")
    ax.legend(fontsize=8)
    ax.set_title("gato-ros eval through the ROS graph")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
