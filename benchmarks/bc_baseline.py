"""A plain behaviour-cloning baseline on the Gato's own object-state demos: how hard the task is for any learner.

A 2x256 MLP regresses the expert's efforts (divided by an action scale) from the continuous observation the
object-state Gato tokenizes (proprio 15 + object poses 21, `gato_ros.observation`), then runs closed loop exactly
like `gato-ros eval --direct` (held-out seeds from 100000, never selected; 400 steps; SafetyFilter in the loop;
the same success and stage rules). Optional DAgger rounds relabel the MLP's own rollouts with
`ScriptedExpert.label` (seeds 50000 + 1000 k, disjoint from evaluation) and retrain on everything; `--dart-episodes`
adds episodes of the expert driving with torque noise, labelled with its clean action (DART, seeds from 200000).

    python benchmarks/bc_baseline.py --demos data/demos_objects --scale limits --out benchmarks/results/bc_baseline.json
    python benchmarks/bc_baseline.py --demos data/demos_objects --scale 8.4,20.9,7.8,22.3,5.2,6.2,11.2,2.0 \
        --dagger-rounds 3 --out benchmarks/results/bc_baseline.json
    python benchmarks/bc_baseline.py --demos data/demos_objects --scale 8.4,20.9,7.8,22.3,5.2,6.2,11.2,2.0 \
        --dart-episodes 300 --dart-sigma 0.2 --out benchmarks/results/bc_baseline.json
    python benchmarks/bc_baseline.py --demos data/demos_objects data/demos_objects_more --count 600 --kinematics \
        --scale 8.4,20.9,7.8,22.3,5.2,6.2,11.2,2.0 --out benchmarks/results/bc_baseline.json

`--kinematics` adds the features of gato.json's tokenizer.kinematics (pinch pose and velocity, objects relative to
it: gato_ros.observation.kinematic_features) to the MLP's input. `--action-space cartesian` regresses the expert's
Cartesian command recorded in the bags (scaled by its per-step bounds) and turns it into arm torques with the
impedance controller at run time, as GatoPolicy does for a cartesian model:

    python benchmarks/bc_baseline.py --demos data/demos_cart --kinematics --action-space cartesian \
        --out benchmarks/results/bc_baseline.json

Each call appends one row (config, per-round success with a 95 % Wilson interval, stages) to --out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

DART_SEED = 200_000  # noisy-expert episodes (disjoint from demos < 100000, held-out 100000+, DAgger 50000+)
LIMITS = (80.0, 80.0, 40.0, 40.0, 9.0, 9.0, 9.0, 2.0)  # gato.json's default robot.action_scale
NUM_BINS = 1024  # the Gato's value bins per action dimension (gato.json vocab.num_bins)


class Features:
    """The MLP's input: proprio (15) and object state (21), plus the 21 tokenizer.kinematics features if asked."""

    def __init__(self, kinematics: bool = False) -> None:
        from gato_ros.robot import RobotModel
        from gato_ros.robot.registry import load_robot

        desc = load_robot()
        self.robot = RobotModel.for_robot(desc) if kinematics else None
        self.base = desc.base_position

    def __call__(self, proprio: np.ndarray, objects: np.ndarray) -> np.ndarray:
        from gato_ros.observation import kinematic_features

        extra = [] if self.robot is None else [kinematic_features(self.robot, self.base, proprio, objects)]
        return np.concatenate([proprio, objects, *extra])


def load_demos(roots: Path | list[Path], count: int, features: Features | None = None, cartesian: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """Observation features [N, 36 or 57] and efforts [N, 8] (Cartesian commands [N, 7] when `cartesian`) of the
    first `count` demos under `roots` (in order)."""
    from gato_ros.demos.bag import list_episodes, read_episode
    from gato_ros.observation import proprio_from_joints

    features = features or Features()

    feats, acts = [], []
    paths = [p for root in (roots if isinstance(roots, list) else [roots]) for p in list_episodes(root)]
    for path in paths[:count]:
        ep = read_episode(path)
        if ep.object_state is None:
            raise SystemExit(f"{path} has no object state (generate demos with object poses)")
        feats.append(np.stack([features(proprio_from_joints(q, qd), objects) for q, qd, objects in
                               zip(ep.joint_positions, ep.joint_velocities, ep.object_state)]))
        if cartesian and ep.cartesian_commands is None:
            raise SystemExit(f"{path} records no Cartesian command (generate demos with this version)")
        acts.append(ep.cartesian_commands if cartesian else ep.actions)
    return np.concatenate(feats), np.concatenate(acts)


class CartesianPolicy:
    """An MLP on Cartesian commands as a features -> efforts function: the command's move and turn become arm
    torques through the impedance controller at the state's joints (home-posture null space), as in GatoPolicy."""

    def __init__(self, mlp: "MLPPolicy", features: Features, home_q: np.ndarray) -> None:
        from gato_ros.control import CartesianImpedanceController
        from gato_ros.robot import RobotModel
        from gato_ros.robot.registry import load_robot

        self.mlp = mlp
        self.controller = CartesianImpedanceController(features.robot or RobotModel.for_robot(load_robot()))
        self.controller.set_posture(np.asarray(home_q, dtype=np.float64)[:7])

    def __call__(self, feat: np.ndarray) -> np.ndarray:
        command = self.mlp(feat)
        return np.concatenate([self.controller.lead_torques(feat[:7], feat[7:14], command[:6]), command[6:]])


class MLPPolicy:
    """Standardised features -> 2x256 ReLU MLP -> efforts / scale, trained with AdamW and cosine decay.

    `head`: `regression` (one output per dimension, MSE); `bins` (the Gato's 1024-bin head per dimension, HL-Gauss
    cross entropy of width `sigma` bins, expected-value decoding); `bins-mse` (the same plus `mse_weight` x the MSE
    of that expected value: the Gato's `action_value_weight`). Isolates what the bins cost a learner."""

    def __init__(self, feats: np.ndarray, scale: np.ndarray, limits: np.ndarray, seed: int, head: str = "regression",
                 sigma: float = 6.0, mse_weight: float = 100.0) -> None:
        import torch

        torch.manual_seed(seed)
        self.mean, self.std = feats.mean(0), feats.std(0) + 1e-6
        self.scale, self.limits, self.head, self.sigma, self.mse_weight = scale, limits, head, sigma, mse_weight
        width = len(scale) * (1 if head == "regression" else NUM_BINS)
        self.net = torch.nn.Sequential(torch.nn.Linear(feats.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                       torch.nn.ReLU(), torch.nn.Linear(256, width))

    def predict(self, x: Any) -> Any:
        """[B, dims] values in [-1, 1]: the regression output, or the expected bin centre of each dimension."""
        import torch

        out = self.net(x)
        if self.head == "regression":
            return out
        centres = torch.linspace(-1 + 1 / NUM_BINS, 1 - 1 / NUM_BINS, NUM_BINS)
        return torch.softmax(out.view(len(x), len(self.scale), NUM_BINS), -1) @ centres

    def loss(self, x: Any, y: Any) -> Any:
        import torch

        from gato_ros.model.gato import hl_gauss_targets

        if self.head == "regression":
            return torch.nn.functional.mse_loss(self.net(x), y)
        logits = self.net(x).view(len(x), len(self.scale), NUM_BINS)
        bins = ((y + 1) / 2 * NUM_BINS).long().clamp(0, NUM_BINS - 1)
        ce = -(hl_gauss_targets(NUM_BINS, self.sigma)[bins] * torch.log_softmax(logits, -1)).sum(-1).mean()
        if self.head == "bins":
            return ce
        centres = torch.linspace(-1 + 1 / NUM_BINS, 1 - 1 / NUM_BINS, NUM_BINS)
        return ce + self.mse_weight * torch.nn.functional.mse_loss(torch.softmax(logits, -1) @ centres, y)

    def fit(self, feats: np.ndarray, acts: np.ndarray, epochs: int, batch: int = 256) -> float:
        import torch

        x = torch.tensor((feats - self.mean) / self.std, dtype=torch.float32)
        y = torch.tensor(np.clip(acts / self.scale, -1.0, 1.0), dtype=torch.float32)
        opt = torch.optim.AdamW(self.net.parameters(), 1e-3, weight_decay=1e-4)
        steps = max(1, epochs * len(x) // batch)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        for _ in range(steps):
            idx = torch.randint(0, len(x), (batch,))
            loss = self.loss(x[idx], y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        return float(loss.detach())

    def __call__(self, feat: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.predict(torch.tensor((feat[None] - self.mean) / self.std, dtype=torch.float32))[0].numpy()
        return np.clip(out.astype(np.float64) * self.scale, -self.limits, self.limits)


class ExpertNoise:
    """DART-style execution noise (Laskey et al. 2017): the expert drives with per-joint Ornstein-Uhlenbeck torque
    noise (stationary std `sigma` x the action scale, step correlation 0.8) while its clean label is what is kept,
    so the data covers the states next to the expert's own path with labels that lead back to it."""

    def __init__(self, sigma: float, scale: np.ndarray, seed: int) -> None:
        self.std = sigma * np.asarray(scale[:7], dtype=np.float64)
        self.rng = np.random.default_rng(seed)
        self.state: np.ndarray | None = None

    def __call__(self) -> np.ndarray:
        fresh = self.rng.standard_normal(len(self.std)) * self.std
        self.state = fresh if self.state is None else 0.8 * self.state + 0.6 * fresh
        return self.state


def rollout(env: Any, safety_cfg: Any, policy: Callable[[np.ndarray], np.ndarray] | None, seed: int,
            visited: list | None = None, noise: ExpertNoise | None = None, features: Features | None = None
            ) -> tuple[bool, str]:
    """One closed-loop episode as `gato-ros eval --direct` runs it, driven by `policy(features)` (None: the expert,
    plus `noise` on its arm torques). With `visited`, (features, expert label, action sent, expert phase) of every
    visited state are appended to it and the episode stops once the stack has held."""
    from gato_ros.eval.direct import MAX_STEPS, SUCCESS_HOLD_STEPS, control_steps, held_success
    from gato_ros.eval.stages import best_stage
    from gato_ros.observation import proprio_from_joints
    from gato_ros.safety import SafetyFilter
    from gato_ros.sim.expert import ScriptedExpert

    features = features or Features()
    safety = SafetyFilter(env.robot, safety_cfg)
    safety.reset()
    obs = env.reset(seed=seed)
    expert = ScriptedExpert(env, seed)
    expert.reset(obs)
    if hasattr(policy, "reset"):
        policy.reset()
    if hasattr(policy, "bind_expert"):  # a probe that reads the expert's command on each state (labelled first)
        policy.bind_expert(expert)

    def act(o: Any) -> np.ndarray:
        feat = features(proprio_from_joints(o.q, o.qd), env.object_state())
        label = expert.label(o)
        action = np.array(label if policy is None else policy(feat), dtype=np.float64)
        if noise is not None:
            action[:7] += noise()
        if visited is not None:
            visited.append((feat, label, action, str(expert.phase.value)))
        return action

    flags, stages = [], []
    for _ in control_steps(env, obs, act, safety, MAX_STEPS, render=False):
        flags.append(bool(env.success()))
        stages.append(str(env.stage()))
        if visited is not None and len(flags) >= SUCCESS_HOLD_STEPS and all(flags[-SUCCESS_HOLD_STEPS:]):
            break
    ok = held_success(flags) is not None
    return ok, "stacked" if ok else best_stage(stages)


def dart_data(env: Any, safety_cfg: Any, episodes: int, sigma: float, scale: np.ndarray, features: Features,
              first_seed: int = DART_SEED) -> tuple[np.ndarray, np.ndarray, float]:
    """(features, clean labels, expert success rate) of `episodes` noisy-expert episodes (seeds from first_seed)."""
    pairs: list = []
    wins = 0
    for i in range(episodes):
        ok, _ = rollout(env, safety_cfg, None, first_seed + i, pairs, ExpertNoise(sigma, scale, first_seed + i),
                        features)
        wins += ok
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), wins / max(episodes, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demos", type=Path, nargs="+", required=True,
                        help="object-state demo roots (gato-ros demos generate), used in order")
    parser.add_argument("--count", type=int, default=600, help="use the first N demos")
    parser.add_argument("--scale", default="limits", help="'limits' (gato.json default) or 8 comma-separated values")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--episodes", type=int, default=30, help="held-out evaluation episodes per round")
    parser.add_argument("--dagger-rounds", type=int, default=0)
    parser.add_argument("--rollouts", type=int, default=60, help="relabelled rollouts per DAgger round")
    parser.add_argument("--dart-episodes", type=int, default=0, help="noisy-expert episodes added to the demos (DART)")
    parser.add_argument("--dart-sigma", type=float, default=0.2, help="DART torque noise std (x the action scale)")
    parser.add_argument("--kinematics", action="store_true",
                        help="add tokenizer.kinematics' features (pinch pose and velocity, objects relative to it)")
    parser.add_argument("--head", choices=("regression", "bins", "bins-mse"), default="regression",
                        help="output head (MLPPolicy): regression, the Gato's 1024 bins, or bins + expected-value MSE")
    parser.add_argument("--sigma", type=float, default=6.0, help="HL-Gauss width in bins (bins heads)")
    parser.add_argument("--mse-weight", type=float, default=100.0, help="weight of the expected-value MSE (bins-mse)")
    parser.add_argument("--action-space", choices=("effort", "cartesian"), default="effort",
                        help="regress the efforts, or the recorded Cartesian command (torques by the impedance "
                             "controller at run time)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import torch

    from gato_ros import paths
    from gato_ros.eval.direct import HELDOUT_SEED
    from gato_ros.eval.stats import wilson_interval
    from gato_ros.nodes.common import config_from_params_file
    from gato_ros.safety import SafetyConfig
    from gato_ros.sim.env import StackingEnv

    torch.set_num_threads(1)
    scale = np.array(LIMITS if args.scale == "limits" else [float(v) for v in args.scale.split(",")])
    if scale.shape != (8,) or (scale <= 0).any():
        raise SystemExit(f"--scale needs 8 positive values, got {args.scale}")
    limits = np.array([80.0, 80.0, 40.0, 40.0, 9.0, 9.0, 9.0, 1.0])
    cartesian = args.action_space == "cartesian"
    if cartesian:
        if args.dagger_rounds:
            raise SystemExit("DAgger rounds relabel with efforts; with --action-space cartesian use 0 rounds")
        if args.dart_episodes:
            raise SystemExit("--dart-episodes adds torque-noise effort labels; for Cartesian recovery demos generate "
                             "them with `gato-ros demos generate --noise` and pass their root to --demos")
        from gato_ros.interfaces import CARTESIAN_MAX_STEP, CARTESIAN_MAX_TURN

        scale = limits = np.repeat([CARTESIAN_MAX_STEP, CARTESIAN_MAX_TURN, 1.0], [3, 3, 1])
    features = Features(args.kinematics)
    feats, acts = load_demos(args.demos, args.count, features, cartesian)
    env = StackingEnv(cell="primitive", object_set="rgb_train_random")
    safety_cfg = config_from_params_file(SafetyConfig, paths.config_dir() / "safety.yaml", "safety")
    dart = {}
    if args.dart_episodes:
        extra_feats, extra_acts, expert_rate = dart_data(env, safety_cfg, args.dart_episodes, args.dart_sigma, scale,
                                                           features)
        feats, acts = np.concatenate([feats, extra_feats]), np.concatenate([acts, extra_acts])
        dart = {"episodes": args.dart_episodes, "sigma": args.dart_sigma, "samples": len(extra_feats),
                "noisy_expert_success": expert_rate}
        print(f"DART: {len(extra_feats)} samples, noisy expert stacked {expert_rate:.0%}", flush=True)
    rounds, start = [], time.perf_counter()
    policy: Callable[[np.ndarray], np.ndarray] | None = None
    for k in range(args.dagger_rounds + 1):
        if policy is not None:
            pairs: list = []
            for i in range(args.rollouts):
                rollout(env, safety_cfg, policy, 50_000 + 1000 * k + i, pairs, features=features)
            feats = np.concatenate([feats, np.stack([p[0] for p in pairs])])
            acts = np.concatenate([acts, np.stack([p[1] for p in pairs])])
        mlp = MLPPolicy(feats, scale, limits, args.seed, args.head, args.sigma, args.mse_weight)
        loss = mlp.fit(feats, acts, args.epochs)
        policy = CartesianPolicy(mlp, features, env.reset(seed=HELDOUT_SEED).q) if cartesian else mlp
        results = [rollout(env, safety_cfg, policy, HELDOUT_SEED + i, features=features) for i in range(args.episodes)]
        wins = sum(ok for ok, _ in results)
        rounds.append({"round": k, "samples": len(feats), "final_loss": loss, "successes": wins,
                       "episodes": args.episodes, "success_ci95": wilson_interval(wins, args.episodes),
                       "stages": [s for _, s in results], "wall_s": round(time.perf_counter() - start, 1)})
        print(f"round {k}: {wins}/{args.episodes} on {len(feats)} samples", flush=True)
    row = {"demos": " ".join(str(d) for d in args.demos), "count": args.count, "kinematics": args.kinematics,
           "action_space": args.action_space, "head": args.head,
           **({"sigma": args.sigma} if args.head != "regression" else {}),
           **({"mse_weight": args.mse_weight} if args.head == "bins-mse" else {}),
           "scale": scale.tolist(), "epochs": args.epochs, "seed": args.seed, **({"dart": dart} if dart else {}),
           "rounds": rounds}
    rows = json.loads(args.out.read_text()) if args.out.is_file() else []
    args.out.write_text(json.dumps(rows + [row], indent=1))


if __name__ == "__main__":
    main()
