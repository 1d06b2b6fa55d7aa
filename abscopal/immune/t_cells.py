"""Effector T cells inside one lesion, as arrays (one entry per T cell).

They enter at the lesion edge or from vessels inside it, move by a random walk (random motility
speed² x persistence / 2, PhysiCell's cancer-immune sample) biased up the gradient of live tumour
cells (the chemokines CXCL9/10 that tumour cells make), stay in tissue, and engage neighbouring cells at
random times, on average one per ``engagement_time_h`` (Kather et al. 2017): a Poisson process over the time
each T cell is in the lesion during a step (from its entry, drawn uniformly within the step, to its death),
so the kills per day do not depend on the step. An
engagement kills an antigen-bearing cell with ``kill_probability`` x antigenicity, reduced by PD-1
binding PD-L1 (Hill function; anti-PD-1/PD-L1 occupancy frees the receptor) and by suppressors.
PD-1-inhibited engagements exhaust the cell; so does spending its kill budget. Each T cell lives a
drawn lifespan (SPQSP-IO: 10 ± 1.5 days). Effectors made by reactivated memory cells (secondary
effectors) kill with a higher probability and a larger budget and need more PD-L1 to be inhibited:
secondary CD8 cells keep their lytic ability and protect more per cell (Jabbari & Harty 2006), and
memory CD8 cells have a higher functional avidity (Mayya et al. 2019).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..odes import hill

LIVE, APOPTOTIC = 1, 3
NEIGHBOURS = np.array([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)])


@dataclass(frozen=True)
class TCellSignals:
    """What a lesion's effectors read over a step of ``dt`` days from ``day``."""

    day: float
    dt: float
    pd1_free: float  # the fraction of PD-1/PD-L1 binding left by the drugs x the PD-1 expression Tregs sustain
    suppression: float  # fraction by which suppressors reduce the kill probability (0-1)
    rng: np.random.Generator


class EffectorTCells:
    """Struct of arrays: positions (lattice sites), kills so far, days of entry and death, exhausted and secondary
    flags, and weights (the cells of the whole lesion each stands for: 1 in the section pool, the section's scale in
    the conserved circulation, ``immune/circulation.py``). After a step, ``ifn_sources`` holds the sites and days of
    IFN-γ secretion of every T cell present during it (the dead included), see ``step``; ``dead_weight`` counts the
    weight of all that died in the lesion (cells, cumulative)."""

    def __init__(self, p: dict):
        self.p = p
        self.row = np.empty(0, np.int64)
        self.col = np.empty(0, np.int64)
        self.kills = np.empty(0, np.int64)
        self.entry_day = np.empty(0, float)
        self.death_day = np.empty(0, float)
        self.exhausted = np.empty(0, bool)
        self.secondary = np.empty(0, bool)
        self.weight = np.empty(0, float)
        self.ifn_sources = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, float))
        self.dead_weight = 0.0

    @property
    def size(self) -> int:
        return self.row.size

    def active_count(self) -> int:
        return int((~self.exhausted).sum())

    def exhausted_count(self) -> int:
        return int(self.exhausted.sum())

    def _keep(self, keep: np.ndarray) -> None:
        for name in ("row", "col", "kills", "entry_day", "death_day", "exhausted", "secondary", "weight"):
            setattr(self, name, getattr(self, name)[keep])

    def admit(self, n: int, lesion, day: float, rng: np.random.Generator, secondary_share: float = 0.0,
              over_days: float = 0.0, secondary: np.ndarray | None = None, weight: np.ndarray | float = 1.0) -> int:
        """n effectors enter the lesion's tissue at times drawn uniformly from ``day`` to ``day + over_days`` (a step):
        a share at its edge, the rest at random tissue sites; each is a secondary (memory-derived) effector with
        probability ``secondary_share``, or as the flags ``secondary`` say, and stands for ``weight`` cells. Each
        lives a drawn lifespan from its entry. Returns the number admitted (0 without tissue)."""
        if n == 0:
            return 0
        rs, cs = lesion.window(pad=0)
        tissue = lesion.state[rs, cs] != 0
        if not tissue.any():
            return 0
        n_edge = rng.binomial(n, lesion.params["trafficking"]["edge_entry_fraction"])
        sites = []
        for mask, k in ((lesion.outer_edge(rs, cs), n_edge), (tissue, n - n_edge)):
            flat = np.flatnonzero(mask if mask.any() else tissue)
            sites.append(flat[rng.integers(0, flat.size, k)])
        r, c = np.divmod(np.concatenate(sites), tissue.shape[1])
        entry = day + over_days * rng.random(n)
        life = np.maximum(rng.normal(self.p["lifespan_days_mean"], self.p["lifespan_days_sd"], n), 0.0)
        if secondary is None:
            secondary = rng.random(n) < secondary_share if secondary_share > 0 else np.zeros(n, bool)
        self._append(r + rs.start, c + cs.start, entry, entry + life, secondary, np.broadcast_to(weight, n))
        return n

    def seed_resident(self, n: int, lesion, day: float, rng: np.random.Generator, weight: float = 1.0) -> int:
        """n pre-existing (primary) effectors at random tissue sites of the lesion on ``day``, as an infiltrate
        that has been entering at a steady rate: each has a drawn lifespan, of which a uniform share is left, and
        stands for ``weight`` cells. Returns the number seeded."""
        rs, cs = lesion.window(pad=0)
        tissue = np.flatnonzero(lesion.state[rs, cs] != 0)
        if n == 0 or tissue.size == 0:
            return 0
        r, c = np.divmod(tissue[rng.integers(0, tissue.size, n)], cs.stop - cs.start)
        life = np.maximum(rng.normal(self.p["lifespan_days_mean"], self.p["lifespan_days_sd"], n), 0.0)
        entry = np.full(n, float(day))
        self._append(r + rs.start, c + cs.start, entry, entry + rng.random(n) * life, np.zeros(n, bool),
                     np.full(n, float(weight)))
        return n

    def _append(self, row: np.ndarray, col: np.ndarray, entry: np.ndarray, death: np.ndarray,
                secondary: np.ndarray, weight: np.ndarray) -> None:
        """Add T cells at lattice sites (row, col), present from ``entry`` to ``death`` (days), none exhausted, each
        standing for ``weight`` cells."""
        n = row.size
        self.row = np.concatenate([self.row, row])
        self.col = np.concatenate([self.col, col])
        self.kills = np.concatenate([self.kills, np.zeros(n, np.int64)])
        self.entry_day = np.concatenate([self.entry_day, entry])
        self.death_day = np.concatenate([self.death_day, death])
        self.exhausted = np.concatenate([self.exhausted, np.zeros(n, bool)])
        self.secondary = np.concatenate([self.secondary, secondary])
        self.weight = np.concatenate([self.weight, weight])

    def step(self, lesion, s: TCellSignals) -> None:
        """Move, engage and kill, exhaust and die over ``s.dt`` days.

        s.pd1_free: the fraction of PD-1/PD-L1 binding left by the drugs, (1 - occ anti-PD-1)(1 - occ anti-PD-L1).
        The step is split into rounds of motion, at most ``engagement_time_h`` long; in each round a T cell
        engages a Poisson number of times, its mean the rate 1 / ``engagement_time_h`` x the time it is in the
        lesion during the round (from entry to death), one engagement after another (stopping when exhausted).
        Those whose death falls within the step are removed at its end.
        """
        day, dt, pd1_free, suppression, rng = s.day, s.dt, s.pd1_free, s.suppression, s.rng
        end = day + dt
        if self.size:
            rate_per_day = 24.0 / self.p["engagement_time_h"]
            rounds = max(1, math.ceil(rate_per_day * dt - 1e-9))
            edges = day + dt * np.arange(rounds + 1) / rounds
            for start, stop in zip(edges[:-1], edges[1:]):
                self._move(lesion, dt / rounds, rng)
                present = np.clip(np.minimum(self.death_day, stop) - np.maximum(self.entry_day, start), 0.0, None)
                remaining = rng.poisson(rate_per_day * present)
                while (engaging := (remaining > 0) & ~self.exhausted).any():
                    self._engage(lesion, engaging, pd1_free, suppression, rng)
                    remaining -= 1
        present = np.clip(np.minimum(self.death_day, end) - np.maximum(self.entry_day, day), 0.0, None)
        ifn = np.where(self.exhausted, self.p["exhausted_ifn_gamma_fraction"], 1.0)
        self.ifn_sources = (self.row, self.col, present * ifn)
        alive = self.death_day > end
        self.dead_weight += float(self.weight[~alive].sum())
        self._keep(alive)

    def egress(self, rate_per_day: float, dt: float, rng: np.random.Generator) -> tuple[float, float]:
        """Active effectors leave the lesion for the blood, each with probability 1 - exp(-rate x dt); exhausted ones
        stay (an assumption: the T cells that leave tumours are the activated ones, Torcellan et al. 2017, and
        dysfunctional ones are retained). Returns the weights that left: (primary, memory-derived), cells."""
        leaving = ~self.exhausted & (rng.random(self.size) < -math.expm1(-rate_per_day * dt))
        out = (float(self.weight[leaving & ~self.secondary].sum()), float(self.weight[leaving & self.secondary].sum()))
        self._keep(~leaving)
        return out

    def remove_all(self) -> None:
        """Every T cell dies with the tissue (a resection): their weight joins the dead."""
        self.dead_weight += float(self.weight.sum())
        self._keep(np.zeros(self.size, bool))
        self.ifn_sources = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, float))

    def _move(self, lesion, dt: float, rng: np.random.Generator) -> None:
        p = self.p
        cell_um = lesion.cell_um
        motility_um2_per_day = p["speed_um_per_min"] ** 2 * p["persistence_min"] / 2.0 * 1440.0
        sd = math.sqrt(2.0 * motility_um2_per_day * dt) / cell_um
        drift = p["chemotaxis_bias"] * p["speed_um_per_min"] * 1440.0 * dt / cell_um
        dr = rng.normal(0.0, sd, self.size)
        dc = rng.normal(0.0, sd, self.size)
        if drift > 0:
            pixel = lesion.pixel_of(self.row, self.col)
            gr, gc = (np.take(g, pixel) for g in np.gradient(lesion.live_density()))
            norm = np.hypot(gr, gc)
            moving = norm > 0
            dr[moving] += drift * gr[moving] / norm[moving]
            dc[moving] += drift * gc[moving] / norm[moving]
        n = lesion.state.shape[0]
        r = np.rint(self.row + dr).astype(np.int64)
        c = np.rint(self.col + dc).astype(np.int64)
        inside = (r >= 0) & (r < n) & (c >= 0) & (c < n)
        ok = inside.copy()
        ok[inside] = np.take(lesion.state, r[inside] * n + c[inside]) != 0  # T cells stay in tissue
        self.row = np.where(ok, r, self.row)
        self.col = np.where(ok, c, self.col)

    def _engage(self, lesion, engaging: np.ndarray, pd1_free: float, suppression: float,
                rng: np.random.Generator) -> None:
        """The effectors where ``engaging`` (bool per T cell) each engage a random neighbouring site once."""
        p = self.p
        n = lesion.state.shape[0]
        who = np.flatnonzero(engaging)
        offset = NEIGHBOURS[rng.integers(0, len(NEIGHBOURS), who.size)]
        site = np.clip(self.row[who] + offset[:, 0], 0, n - 1) * n + np.clip(self.col[who] + offset[:, 1], 0, n - 1)
        target = np.take(lesion.state, site) == LIVE
        who, site = who[target], site[target]
        secondary = self.secondary[who]
        half = np.where(secondary, p["pd1_inhibition_half_pd_l1"] * p["secondary_pd1_half_fold"], p["pd1_inhibition_half_pd_l1"])
        inhibition = hill(np.take(lesion.pd_l1, site) * pd1_free, half, p["pd1_hill"])
        p_kill = (np.where(secondary, p["secondary_kill_probability"], p["kill_probability"]) * np.minimum(np.take(lesion.antigenicity, site), 1.0) * (1 - inhibition)
                  * (1 - suppression))
        u_kill, u_exhaust = rng.random(who.size), rng.random(who.size)
        killed = u_kill < p_kill
        # two T cells on one target: the first kills it
        _, first = np.unique(site[killed], return_index=True)
        killers = who[killed][first]
        lesion.kill(site[killed][first], APOPTOTIC, quality=1.0, damp_factor=1.0)
        self.kills[killers] += 1
        self.exhausted[who[u_exhaust < p["exhaustion_per_inhibited_engagement"] * inhibition]] = True
        self.exhausted |= self.kills >= np.where(self.secondary, p["secondary_kill_budget"], p["kill_budget"])
