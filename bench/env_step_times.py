"""Reset and step times of the gym-adapter, MiniWoB++ and robot envs (median and p90 over N calls).

    .venv/bin/python bench/env_step_times.py [--n 50] [--no-miniwob] [--no-robot] [--only-robot]

Gym envs step with a reproducible random named option; MiniWoB++ tasks step with the oracle's action
(what a scripted policy does), at device scale 1 and 2. Times include building the Observation (frame
to PIL image, text) and, for MiniWoB++, the browser round trips and the screenshot. Robot tasks step
with the oracle's action at both suite camera sizes (the whole motion: IK, physics, the RGB and depth
renders); their render and physics-step figures are printed against the targets (RGB <= 80 ms at 640x480,
a pick-and-place <= 2 s wall).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import warnings

from vlagent.actions.models import Choose

GYM = [
    ("FrozenLake-v1", {"is_slippery": False}),
    ("CliffWalking-v1", {}),
    ("Taxi-v4", {}),
    ("Blackjack-v1", {}),
    ("MiniGrid-Empty-5x5-v0", {}),
    ("ALE/Pong-v5", {}),
    ("ALE/Breakout-v5", {}),
]
MINIWOB = ["click-test", "click-button", "enter-text", "login-user"]


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {statistics.median(xs) * 1000:7.2f} ms  p90 {xs[int(0.9 * (len(xs) - 1))] * 1000:7.2f} ms"


def bench_gym(n: int) -> None:
    from vlagent.envs.gym_adapter import GymEnv

    rng = random.Random(0)
    for env_id, kwargs in GYM:
        env = GymEnv(env_id, kwargs)
        resets, steps = [], []
        obs, _ = env.reset(seed=0)
        for i in range(n):
            t = time.perf_counter()
            obs, _ = env.reset(seed=i)
            resets.append(time.perf_counter() - t)
            for _ in range(5):
                t = time.perf_counter()
                obs, _, term, trunc, _ = env.step(Choose(option=rng.choice(obs.options)))
                steps.append(time.perf_counter() - t)
                if term or trunc:
                    break
        size = "x".join(map(str, obs.size))
        print(f"gym:{env_id:24s} {size:>8s}  reset {stats(resets)}  | step {stats(steps)}")
        env.close()


def time_oracle_episodes(env, *, episodes: int, max_steps: int):
    """Seeded episodes driven by the env's own oracle: reset and step times, the last obs, each step's info."""
    resets, steps, infos = [], [], []
    obs = None
    for i in range(episodes):
        t = time.perf_counter()
        obs, info = env.reset(seed=i)
        resets.append(time.perf_counter() - t)
        for _ in range(max_steps):
            if info["oracle"] is None:
                break
            t = time.perf_counter()
            obs, _, term, _, info = env.step(info["oracle"])
            steps.append(time.perf_counter() - t)
            infos.append(info)
            if term:
                break
    return resets, steps, obs, infos


def bench_miniwob(n: int) -> None:
    from vlagent.envs.miniwob import MiniWoBEnv, availability

    ok, why = availability()
    if not ok:
        print(f"miniwob skipped: {why}")
        return
    for scale in (1.0, 2.0):
        t = time.perf_counter()
        env = MiniWoBEnv(MINIWOB[0], scale=scale)
        print(f"miniwob start (Chromium + ChromeDriver, scale {scale:g}): {(time.perf_counter() - t) * 1000:.0f} ms")
        for task in MINIWOB:
            t = time.perf_counter()
            env.switch_task(task)
            switch = time.perf_counter() - t
            resets, steps, obs, _ = time_oracle_episodes(env, episodes=n, max_steps=10)
            size = "x".join(map(str, obs.size))
            print(f"miniwob:{task:18s} {size:>8s}  reset {stats(resets)}  | step {stats(steps)}"
                  f"  (switch task {switch * 1000:.0f} ms)")
        env.close()


#: Targets from the robot issue: one RGB frame at 640x480, one pick-and-place action (wall seconds).
ROBOT_RENDER_TARGET = 0.080
ROBOT_PICK_PLACE_TARGET = 2.0


def bench_robot(n: int) -> None:
    from vlagent.agent.suites import ROBOT_SIZES
    from vlagent.envs.robot import TASKS, availability
    from vlagent.envs.robot.env import RobotEnv
    from vlagent.envs.robot.mujoco_loader import load_mujoco
    from vlagent.envs.robot.scene import CAMERA_NAME

    ok, why = availability()
    if not ok:
        print(f"robot skipped: {why}")
        return
    mujoco = load_mujoco()
    for size in ROBOT_SIZES:
        env = RobotEnv("pick-place", size=size)
        env.reset(seed=0)
        w, h = env.size
        renderer = mujoco.Renderer(env.model, height=h, width=w)
        rgb, depth, physics = [], [], []
        for _ in range(max(n, 10)):
            t = time.perf_counter()
            renderer.update_scene(env.data, camera=CAMERA_NAME)
            renderer.render()
            rgb.append(time.perf_counter() - t)
        renderer.enable_depth_rendering()
        for _ in range(max(n, 10)):
            t = time.perf_counter()
            renderer.update_scene(env.data, camera=CAMERA_NAME)
            renderer.render()
            depth.append(time.perf_counter() - t)
        renderer.close()
        for _ in range(max(n, 10)):
            t = time.perf_counter()
            for _ in range(100):
                mujoco.mj_step(env.model, env.data)
            physics.append((time.perf_counter() - t) / 100)
        env.close()
        verdict = "" if size != "640x480" else (
            "  (target <= 80 ms: " + ("ok" if statistics.median(rgb) <= ROBOT_RENDER_TARGET else "OVER") + ")")
        print(f"robot render {size:>9s}  rgb {stats(rgb)}  | depth {stats(depth)}  | physics step "
              f"{statistics.median(physics) * 1e3:.3f} ms{verdict}")
    bench_robot_accuracy(n)
    for size in ROBOT_SIZES:
        for task in TASKS:
            env = RobotEnv(task, size=size)
            resets, steps, _, infos = time_oracle_episodes(env, episodes=max(5, n // 4), max_steps=6)
            physics_steps = [info["physics_steps"] for info in infos]
            env.close()
            verdict = ""
            if task in ("pick-place", "stack", "sort", "beside"):  # one pick-and-place per step
                verdict = "  (target <= 2 s: " + ("ok" if max(steps) <= ROBOT_PICK_PLACE_TARGET else "OVER") + ")"
            print(f"robot:{task:12s} {size:>9s}  reset {stats(resets)}  | step {stats(steps)}  "
                  f"physics steps/action {statistics.median(physics_steps):.0f}{verdict}")


def bench_robot_accuracy(n: int) -> None:
    """Pixel-to-3D error over table points no object hides, and where pick-place leaves the cube."""
    import numpy as np

    from vlagent.agent.suites import ROBOT_SIZES
    from vlagent.envs.robot.env import RobotEnv

    for size in ROBOT_SIZES:
        env = RobotEnv("pick-place", size=size)
        deproject, placed = [], []
        for i in range(max(5, n // 4)):
            _, info = env.reset(seed=i)
            rng = np.random.default_rng(i)
            centres = [np.array(p) for p in info["objects"].values()]
            for x, y in rng.uniform((-0.25, -0.2), (0.25, 0.12), size=(20, 2)):
                p = np.array([x, y, 0.0])
                if min(np.linalg.norm(p[:2] - c[:2]) for c in centres) > 0.08:
                    deproject.append(float(np.linalg.norm(env.deproject(env._project_point(p)) - p)))
            cube, marker = (env.goal.colours[k] + " " + k for k in ("cube", "marker"))
            _, _, _, _, info = env.step(info["oracle"])
            placed.append(float(np.linalg.norm(np.subtract(info["objects"][cube][:2], info["objects"][marker][:2]))))
        env.close()
        print(f"robot accuracy {size:>9s}  pixel->3D error mean {np.mean(deproject) * 1e3:.2f} mm max "
              f"{np.max(deproject) * 1e3:.2f} mm ({len(deproject)} pixels, rounded to whole pixels)  | "
              f"pick-place cube-to-marker mean {np.mean(placed) * 1e3:.1f} mm max {np.max(placed) * 1e3:.1f} mm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="episodes per env")
    parser.add_argument("--no-miniwob", action="store_true")
    parser.add_argument("--no-robot", action="store_true")
    parser.add_argument("--only-robot", action="store_true", help="only the robot tasks")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if not args.only_robot:
        bench_gym(args.n)
        if not args.no_miniwob:
            bench_miniwob(max(5, args.n // 5))
    if not args.no_robot:
        bench_robot(args.n)


if __name__ == "__main__":
    main()
