"""Sound sources attached to objects, and the microphone signal they make on the ego's roof.

Sources: engine hum of moving cars and trucks (pitch and level rise with speed, plus tyre noise),
horns (two-tone, at random moments), footsteps of walking pedestrians (one thud per step, at
their gait), bicycle bells (two strikes), birds in some trees (chirps at random moments) and wind
at the microphone (gusting noise that grows with the ego's speed).

The microphone hears each source delayed by its distance over the speed of sound and attenuated
as ``1 / max(r, 1 m)``: emission is evaluated at the *retarded* time ``tau`` with
``t - tau = |p_source(tau) - p_mic(t)| / c``, which also gives the Doppler shift of passing traffic. Everything is computed for all samples at once per
source; the loop runs over the few dozen sources, never over samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.signal import butter, sosfilt

if TYPE_CHECKING:
    from .world import World

ENGINE, HORN, FOOTSTEPS, BELL, BIRD, WIND = range(6)
SOURCE_KINDS = ("engine", "horn", "footsteps", "bell", "bird", "wind")
SPEED_OF_SOUND = 343.0
"""Metres per second."""
MASTER_GAIN = 0.25
"""Microphone gain: a car idling past at 5 m reads about 0.05 RMS, a horn at 10 m about 0.1."""
_COARSE_S = 0.01  # positions and speeds are evaluated every 10 ms and interpolated to samples
_NOISE_PAD_S = 1.0  # noise buffers reach this far before the start / after the end of the drive


@dataclass
class SoundSources:
    """``S`` sound sources of a world.

    Attributes:
        kind: ``(S,) int8`` one of ``ENGINE, HORN, FOOTSTEPS, BELL, BIRD, WIND``.
        agent: ``(S,) int64`` index of the agent it rides on; -1 static (``position``); -2 at the microphone.
        position: ``(S, 3)`` world position of static sources (metres).
        gain: ``(S,)`` amplitude at 1 m before :data:`MASTER_GAIN`.
        params: ``(S, 4)`` kind-specific: engine (idle Hz, Hz per m/s, tyre noise, -), horn (Hz, Hz,
            seconds per blast, -), footsteps (steps/s, phase, level, -), bell (Hz, -, -, -),
            bird (Hz, chirps/s, chirp seconds, -), wind (gust period s, phase, -, -).
        events: ``(S, 2)`` start times (seconds since the drive's start; NaN = none) of horn blasts / bell rings.
        seed: ``(S,)`` per-source noise seed.
    """

    kind: np.ndarray
    agent: np.ndarray
    position: np.ndarray
    gain: np.ndarray
    params: np.ndarray
    events: np.ndarray
    seed: np.ndarray

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    def subset(self, keep: np.ndarray) -> SoundSources:
        """The sources selected by ``keep`` (a boolean mask or indices)."""
        return SoundSources(*(getattr(self, f)[keep] for f in ("kind", "agent", "position", "gain", "params", "events",
                                                                "seed")))


def _noise(seed: int, n: int, fs: int, band: tuple[float, float] | None) -> np.ndarray:
    """Unit-RMS white noise, band-passed (Hz) when ``band`` is given."""
    x = np.random.default_rng(int(seed)).standard_normal(n)
    if band is not None:
        lo, hi = band
        nyq = fs / 2.0
        sos = butter(2, [lo / nyq, min(hi / nyq, 0.99)], btype="band", output="sos") if lo > 0 else \
            butter(2, min(hi / nyq, 0.99), btype="low", output="sos")
        x = sosfilt(sos, x)
    return x / max(float(np.sqrt(np.mean(x * x))), 1e-12)


def _event_envelope(tau: np.ndarray, starts: np.ndarray, length_s: float, ramp_s: float = 0.02) -> np.ndarray:
    env = np.zeros_like(tau)
    for t0 in starts[np.isfinite(starts)]:
        a = np.clip((tau - t0) / ramp_s, 0.0, 1.0) * np.clip((t0 + length_s - tau) / ramp_s, 0.0, 1.0)
        env = np.maximum(env, a)
    return env


def _emit(world: World, s: int, tau: np.ndarray, fs: int, grid: np.ndarray, speed_grid: np.ndarray | None
          ) -> np.ndarray:
    """Signal emitted by source ``s`` at source times ``tau`` (seconds since the drive's start), at 1 m."""
    src = world.sounds
    kind = int(src.kind[s])
    p = src.params[s]
    n_noise = int(round((world.duration_s + 2 * _NOISE_PAD_S) * fs))
    t_noise = np.arange(n_noise) / fs - _NOISE_PAD_S

    def noise(band: tuple[float, float] | None, salt: int = 0) -> np.ndarray:
        return np.interp(tau, t_noise, _noise(int(src.seed[s]) + salt, n_noise, fs, band))

    if kind == ENGINE:
        v = np.interp(tau, grid, speed_grid)
        f_grid = p[0] + p[1] * speed_grid
        phase_grid = 2 * np.pi * np.concatenate([[0.0], np.cumsum((f_grid[1:] + f_grid[:-1]) / 2 * np.diff(grid))])
        phase = np.interp(tau, grid, phase_grid)
        hum = sum(np.sin(h * phase + h) / h for h in range(1, 5))
        return (0.4 + 0.06 * v) * hum + p[2] * 0.04 * v * noise((300.0, 2500.0))
    if kind == HORN:
        env = _event_envelope(tau, src.events[s], p[2])
        tone = sum(np.sin(2 * np.pi * k * p[0] * tau) / k + np.sin(2 * np.pi * k * p[1] * tau) / k for k in (1, 3, 5))
        return env * tone
    if kind == FOOTSTEPS:
        since = ((tau * p[0] + p[1] / (2 * np.pi)) % 1.0) / p[0]  # seconds since the last step
        return p[2] * np.exp(-since / 0.025) * noise((80.0, 1200.0))
    if kind == BELL:
        out = np.zeros_like(tau)
        for t0 in src.events[s][np.isfinite(src.events[s])]:
            for strike in (t0, t0 + 0.16):
                dt = tau - strike
                on = dt >= 0
                # Partials at or above 0.45 fs would alias into false tones: left out.
                out[on] += sum(np.exp(-dt[on] / d) * np.sin(2 * np.pi * p[0] * m * dt[on]) / m
                               for m, d in ((1.0, 0.35), (2.76, 0.2), (5.4, 0.1)) if p[0] * m < 0.45 * fs)
        return out
    if kind == BIRD:
        rng = np.random.default_rng(int(src.seed[s]))
        n = rng.poisson(p[1] * (world.duration_s + 2 * _NOISE_PAD_S)) + 1
        starts = np.sort(rng.uniform(-_NOISE_PAD_S, world.duration_s + _NOISE_PAD_S, n))
        k = np.searchsorted(starts, tau, side="right") - 1
        dt = tau - starts[np.clip(k, 0, n - 1)]
        d = p[2]
        on = (k >= 0) & (dt < d)
        ph = 2 * np.pi * (p[0] * dt + 0.4 * p[0] * d / np.pi * (1 - np.cos(np.pi * dt / d)))
        return np.where(on, np.sin(np.pi * np.clip(dt / d, 0, 1)) ** 2 * np.sin(ph), 0.0)
    if kind == WIND:
        v = np.interp(tau, grid, world.ego.speed(grid))
        gust = 0.6 + 0.4 * np.sin(2 * np.pi * tau / p[0] + p[1])
        return gust * (1.0 + (v / 8.0) ** 2) * noise((0.0, 400.0))
    raise ValueError(f"unknown sound source kind {kind}")


def render_microphone(world: World, t0_us: int, n_samples: int, sample_rate: int,
                      T_ego_from_mic: np.ndarray) -> np.ndarray:
    """Microphone signal ``(n_samples,) float32`` in [-1, 1] starting at ``t0_us`` (µs).

    Each source's emission at the retarded time, attenuated by distance, summed, scaled by
    :data:`MASTER_GAIN` and soft-clipped (``tanh``), so loudness means the same in every scene.
    """
    fs = int(sample_rate)
    t = world.ego.seconds(t0_us) + np.arange(int(n_samples)) / fs
    t_end = float(t[-1]) if len(t) else float(world.ego.seconds(t0_us))
    grid = np.arange(float(world.ego.seconds(t0_us)) - 1.0, t_end + 2 * _COARSE_S, _COARSE_S)
    grid_us = world.start_us + np.round(grid * 1e6).astype(np.int64)
    T_mic = world.ego.poses(grid_us) @ T_ego_from_mic
    mic = T_mic[:, :3, 3]
    agents = world.agents
    src = world.sounds
    used = np.unique(src.agent[src.agent >= 0])
    agent_pos = {}
    agent_speed = {}
    if used.size:
        x = agents.stations(grid, world.ego)[:, used]
        lat = agents.lateral[used]
        z = world.road.ground_height(x, lat) + 0.8
        pos = world.road.to_world(x, lat, z)
        spd = agents.speeds(grid, world.ego)[:, used]
        for j, a in enumerate(used):
            agent_pos[int(a)] = pos[:, j]
            agent_speed[int(a)] = spd[:, j]
    out = np.zeros(len(t))
    for s in range(len(src)):
        a = int(src.agent[s])
        if a == -2:
            r = np.zeros(len(t))
            tau = t
        else:
            ps = agent_pos[a] if a >= 0 else np.broadcast_to(src.position[s], mic.shape)
            r_grid = np.linalg.norm(ps - mic, axis=1)
            if r_grid.min() > 250.0:  # inaudible the whole time
                continue
            # Emission time tau of what the microphone hears at grid time g: g - tau = |src(tau) - mic(g)| / c,
            # solved by fixed-point steps (converges at once: sources move far slower than sound).
            tau_grid = grid - r_grid / SPEED_OF_SOUND
            for _ in range(2):
                src_tau = np.stack([np.interp(tau_grid, grid, ps[:, k]) for k in range(3)], axis=1)
                r_grid = np.linalg.norm(src_tau - mic, axis=1)
                tau_grid = grid - r_grid / SPEED_OF_SOUND
            r = np.interp(t, grid, r_grid)
            tau = np.interp(t, grid, tau_grid)
        sig = _emit(world, s, tau, fs, grid, agent_speed.get(a))
        out += src.gain[s] * sig / np.maximum(r, 1.0)
    return np.tanh(MASTER_GAIN * out).astype(np.float32)
