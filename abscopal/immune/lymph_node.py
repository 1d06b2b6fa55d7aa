"""The tumour-draining lymph node and the blood: priming, clonal expansion, memory, Tregs.

Mature DCs arriving from lesions activate antigen-specific naive CD8 cells (rate up to 23 per day,
QSP-IO TNBC); CTLA-4 and Tregs limit it. An activated cell divides ``divisions`` times at
``proliferation_per_day`` (a chain of generations, 2^divisions effectors each), then the effectors
enter the blood, from which lesions recruit them and where they are eliminated at 0.2 per day
(Kosinsky 2018); a fraction of those become memory precursors (about 5 %, Blattman 2002), which
mature into recall-competent memory cells over weeks (``memory_maturation_days``; Kaech et al.
2002) through ``memory_maturation_stages`` stages (a delay, not a first-order rate), so a response is
not recalled by its own waning antigen. Memory is recalled on antigen
re-encounter: mature DCs reactivate memory cells as they activate naive ones (same thresholds,
Zimmermann et al. 1999; ``memory_immature_dc_weight`` > 0 lets antigen-loaded immature DCs count
too, for the lower need for co-stimulation often claimed), and a reactivated memory cell makes
effectors after fewer divisions (``memory_divisions``: the shorter lag of Veiga-Fernandes et al.
2000; Kedl & Mescher 1998). The
secondary response is larger because the primed pool is many-fold the naive precursors (5-100 fold,
Ahmed & Gray 1996), and its effectors are better killers (``secondary_share``; see
``immune/t_cells.py``). Effectors made by memory cells do not return to memory (the pool is formed by
the primary response only), so recall cannot feed on itself.
Tolerogenic DCs that carry antigen of apoptotic cells raise the Treg level (Kushwah et al. 2010: DCs
that engulfed apoptotic cells converted about 4-5 times more naive CD4 cells to Foxp3+ Tregs); so a slow
freeze, which kills more cells by apoptosis, raises Tregs (Sabel et al. 2010). Anti-CTLA-4 depletes Tregs.
MDSCs expanded by the tumour burden (``immune/suppressors.py``, ``SystemicMDSCs``) blunt priming and recall in the
lymphoid organs (arginase, ROS and peroxynitrite; Gabrilovich & Nagaraj 2009) and raise the Treg level's target, as
they induce Foxp3+ Tregs in tumour-bearing mice (Huang et al. 2006).
With ``draining_nodes = "per_lesion"`` each lesion drains to a node of its own (made with the lesion, kept after a
resection): the naive and memory CD8 cells and the CD4 cells that become Tregs recirculate through all of them, an
equal share of their time in each, so priming, recall and Treg induction follow the mean over the nodes of each
node's saturating DC signal instead of the signal of all DCs in one node (the same with one lesion).
All compartments are counts advanced exactly over each step, with the saturating coefficients taken at the
step's midpoint. With the conserved circulation (``trafficking.circulation = "conserved"``, ``immune/circulation.py``)
the rest of the body, the dead by place and the cells born by division join the linear system, and nothing is
clamped at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..odes import hill, linear_step, relax
from .circulation import Circulation


class Compartments:
    """Where each compartment of the node and the blood sits in the state vector (cells; the Treg level relative to
    baseline), which is advanced as one linear system: single compartments by index, chains by slice."""

    mature_dcs, tolerogenic_dcs, naive, memory = 0, 1, 2, 3  # memory: recall-competent memory CD8 cells

    def __init__(self, divisions: int, memory_divisions: int, maturation_stages: int, circulation: bool = False):
        n, m, s = divisions, memory_divisions, maturation_stages
        self.generations = slice(4, 4 + n)  # activated naive cells, by division
        self.blood = 4 + n  # blood effectors
        self.treg = 5 + n  # systemic Treg level
        self.activated = 6 + n  # naive cells activated (cumulative)
        self.primary = 7 + n  # blood effectors of the primary response
        self.memory_generations = slice(8 + n, 8 + n + m)  # reactivated memory cells, by division
        self.recalled = 8 + n + m  # memory cells reactivated (cumulative)
        self.precursor_stages = slice(9 + n + m, 9 + n + m + s)  # memory precursors maturing
        self.size = 9 + n + m + s
        if circulation:  # the conserved circulation's compartments (``immune/circulation.py``), after the node's
            self.rest, self.rest_primary = self.size, self.size + 1  # effectors in the rest of the body, the primary
            self.died_in_blood, self.died_in_rest = self.size + 2, self.size + 3  # cumulative
            self.born = self.size + 4  # cells born by division in the node (cumulative)
            self.size += 5


@dataclass(frozen=True)
class NodeSignals:
    """What the node and the blood read over a step of ``dt`` days (cells arriving or leaving during it)."""

    dt: float
    mature_dcs_in: float  # mature DCs arriving from the lesions
    tolerogenic_dcs_in: float  # tolerogenic (immature, antigen-loaded) DCs arriving
    recruited: float  # effectors that left the blood into lesions
    anti_ctla4_occupancy: float  # 0-1
    apoptotic_tolerogenic_dcs_in: float = 0.0  # the tolerogenic DCs among them that carry apoptotic-cell antigen
    # per lesion: (name, mature DCs, tolerogenic DCs, tolerogenic DCs with apoptotic cargo) arriving; per_lesion nodes only
    by_lesion: tuple[tuple[str, float, float, float], ...] = ()
    mdsc_level: float = 1.0  # circulating MDSCs over the step, relative to a tumour-free individual
    rest_of_body_share: float = 0.0  # the share of the cardiac output passing the rest of the body (conserved circulation)


class LymphNode:
    """Counts of the systemic compartments (cells; Treg level relative to baseline)."""

    def __init__(self, p: dict, blood_elimination_per_day: float, dc_death_per_day: float,
                 circulation: Circulation | None = None):
        """``dc_death_per_day``: death rate of DCs in the node (``dendritic_cells.lymph_node_death_per_day``);
        ``circulation``: the conserved circulation, whose compartments join the node's (None: the section pool)."""
        self.p = p
        self.elimination = blood_elimination_per_day
        self.dc_death_per_day = dc_death_per_day
        self.circulation = circulation
        self.at = Compartments(p["divisions"], p["memory_divisions"], p["memory_maturation_stages"],
                               circulation is not None)
        self.x = np.zeros(self.at.size)
        self.x[self.at.naive] = p["naive_precursors"]
        self.x[self.at.treg] = 1.0
        self.treg_inducing_dcs = 0.0  # tolerogenic DCs in the node weighted by their Treg induction
        # per_lesion: each lesion's node, its [mature, tolerogenic, Treg-inducing] DCs (the totals stay in ``x``)
        self.nodes: dict[str, np.ndarray] | None = {} if p["draining_nodes"] == "per_lesion" else None

    @property
    def blood_effectors(self) -> float:
        return float(self.x[self.at.blood])

    @property
    def secondary_share(self) -> float:
        """Fraction of the blood effectors made by reactivated memory cells (0 while there is less than one)."""
        blood, primary = self.x[self.at.blood], self.x[self.at.primary]
        return float((blood - primary) / blood) if blood - primary >= 1.0 else 0.0

    @property
    def treg_level(self) -> float:
        return float(self.x[self.at.treg])

    def step(self, s: NodeSignals) -> None:
        """Advance by ``s.dt`` days."""
        p, x, i, dt, dc_death_per_day = self.p, self.x, self.at, s.dt, self.dc_death_per_day
        mature_in, tolerogenic_in, recruited, occ_ctla4 = (s.mature_dcs_in, s.tolerogenic_dcs_in, s.recruited,
                                                          s.anti_ctla4_occupancy)
        mdsc_expansion = s.mdsc_level - 1.0  # above a tumour-free individual's
        priming = (1.0 - p["ctla4_priming_inhibition"] * (1.0 - occ_ctla4)) * (
            p["treg_half_suppression"] / (p["treg_half_suppression"] + x[i.treg])
        ) * (p["mdsc_half_suppression"] / (p["mdsc_half_suppression"] + mdsc_expansion))
        if self.nodes is None:
            dc_signal, memory_signal, treg_signal = self._shared_node_signals(s)
        else:
            dc_signal, memory_signal, treg_signal = self._per_lesion_signals(s)
        act = p["activation_per_day_max"] * dc_signal * priming
        recall = p["activation_per_day_max"] * memory_signal * priming
        k = p["proliferation_per_day"]
        elim = self.elimination
        out_rate = recruited / dt / x[i.blood] if x[i.blood] > 0 else 0.0
        treg_target = 1.0 + p["treg_tolerogenic_expansion"] * treg_signal + p["treg_mdsc_expansion"] * mdsc_expansion
        a = np.zeros((len(x), len(x)))
        b = np.zeros(len(x))
        a[i.mature_dcs, i.mature_dcs] = a[i.tolerogenic_dcs, i.tolerogenic_dcs] = -dc_death_per_day
        b[i.mature_dcs], b[i.tolerogenic_dcs] = mature_in / dt, tolerogenic_in / dt
        # priming: naive cells are activated into the first generation of a division chain
        a[i.naive, i.naive] = -act
        a[i.generations.start, i.naive] = a[i.activated, i.naive] = act
        _division_chain(a, i.generations, k)
        # the last generation's daughters leave into the blood (the primary response)
        last = i.generations.stop - 1
        a[i.blood, last] = a[i.primary, last] = 2 * k
        # a share of the primary response's blood effectors become memory precursors, which mature in stages
        stages = range(i.precursor_stages.start, i.precursor_stages.stop)
        a[stages[0], i.primary] = p["memory_fraction"] * elim
        stage = len(stages) / p["memory_maturation_days"]  # exit rate of each precursor stage, 1/day
        for j in stages:
            a[j, j] = -stage
            a[j + 1 if j + 1 < stages.stop else i.memory, j] = stage
        # recall: memory cells are reactivated into a shorter division chain, whose daughters enter the blood
        a[i.memory, i.memory] = -recall
        a[i.memory_generations.start, i.memory] = a[i.recalled, i.memory] = recall
        _division_chain(a, i.memory_generations, k)
        a[i.blood, i.memory_generations.stop - 1] = 2 * k
        a[i.blood, i.blood] = -(elim + out_rate)
        a[i.primary, i.primary] = -(elim + out_rate)
        a[i.treg, i.treg] = -(p["treg_turnover_per_day"] + p["treg_depletion_per_day_max"] * occ_ctla4)
        b[i.treg] = p["treg_turnover_per_day"] * treg_target
        if self.circulation is None:
            self.x = np.maximum(linear_step(a, b, x, dt), 0.0)
        else:  # conserved: nothing clamped
            self.circulation.add_rates(a, i, k, s.rest_of_body_share)
            self.x = linear_step(a, b, x, dt)
            self.circulation.check(self.x, i)

    def _shared_node_signals(self, s: NodeSignals) -> tuple[float, float, float]:
        """Over the step, one node: the saturating signals (0-1) of its mature DCs (priming), of the DCs that recall
        memory, and of its Treg-inducing DCs; the latter's count is advanced here."""
        p, x, i, dt, death = self.p, self.x, self.at, s.dt, self.dc_death_per_day
        # the DCs present during the step: the mean of the start and the (exactly predicted) end value,
        # so that priming does not lag by a step
        mature, tolerogenic = x[i.mature_dcs], x[i.tolerogenic_dcs]
        dc_end = relax(mature, s.mature_dcs_in / dt, death, dt)
        tol_end = relax(tolerogenic, s.tolerogenic_dcs_in / dt, death, dt)
        half, immature_weight = p["mature_dc_half_saturation"], p["memory_immature_dc_weight"]
        dc_signal = 0.5 * float(hill(mature, half) + hill(dc_end, half))
        memory_signal = 0.5 * float(hill(mature + immature_weight * tolerogenic, half)
                                    + hill(dc_end + immature_weight * tol_end, half))
        without_cargo = p["treg_induction_without_apoptotic_cargo"]  # Treg induction relative to apoptotic cargo
        inducing_in = without_cargo * s.tolerogenic_dcs_in + (1.0 - without_cargo) * s.apoptotic_tolerogenic_dcs_in
        inducing_end = relax(self.treg_inducing_dcs, inducing_in / dt, death, dt)
        inducing = 0.5 * (self.treg_inducing_dcs + inducing_end)
        self.treg_inducing_dcs = inducing_end
        return dc_signal, memory_signal, float(hill(inducing, p["tolerogenic_dc_half_saturation"]))

    def _per_lesion_signals(self, s: NodeSignals) -> tuple[float, float, float]:
        """The same signals with a node per lesion: each the mean over the nodes of that node's signal (the
        recirculating cells spend an equal share of their time in each); the nodes' DCs are advanced here."""
        p, dt = self.p, s.dt
        for name, *_ in s.by_lesion:
            self.nodes.setdefault(name, np.zeros(3))
        names = list(self.nodes)
        inflow = np.zeros((len(names), 3))
        without_cargo = p["treg_induction_without_apoptotic_cargo"]
        for name, mature, tolerogenic, apoptotic in s.by_lesion:
            inflow[names.index(name)] = (mature, tolerogenic, without_cargo * tolerogenic + (1.0 - without_cargo) * apoptotic)
        start = np.array([self.nodes[name] for name in names])
        end = relax(start, inflow / dt, self.dc_death_per_day, dt)
        half, immature_weight = p["mature_dc_half_saturation"], p["memory_immature_dc_weight"]

        def mean_hill(dcs: np.ndarray, half: float) -> float:
            return float(hill(dcs, half).mean())

        dc_signal = 0.5 * (mean_hill(start[:, 0], half) + mean_hill(end[:, 0], half))
        memory_signal = 0.5 * (mean_hill(start[:, 0] + immature_weight * start[:, 1], half)
                               + mean_hill(end[:, 0] + immature_weight * end[:, 1], half))
        treg_signal = mean_hill(0.5 * (start[:, 2] + end[:, 2]), p["tolerogenic_dc_half_saturation"])
        self.nodes = dict(zip(names, end))
        self.treg_inducing_dcs = float(end[:, 2].sum())
        return dc_signal, memory_signal, treg_signal

    def record(self) -> dict[str, float]:
        """The systemic row's columns of the node and the blood."""
        x, i = self.x, self.at
        return {
            "ln_mature_dcs": x[i.mature_dcs],
            "ln_tolerogenic_dcs": x[i.tolerogenic_dcs],
            "ln_treg_inducing_dcs": self.treg_inducing_dcs,
            "naive_cd8": x[i.naive],
            "memory_cd8": x[i.memory] + x[i.precursor_stages].sum(),
            "recall_competent_memory_cd8": x[i.memory],
            "proliferating_cd8": float(x[i.generations].sum() + x[i.memory_generations].sum()),
            "blood_effectors": x[i.blood],
            "treg_level": x[i.treg],
            "primed_cd8_total": x[i.activated],
            "memory_recalled_total": x[i.recalled],
        } | ({} if self.circulation is None else self.circulation.record(x, i))


def _division_chain(a: np.ndarray, chain: slice, k: float) -> None:
    """In the rate matrix ``a``, the generations ``chain`` divide at ``k`` per day, each division feeding two
    cells to the next generation."""
    for g in range(chain.start, chain.stop):
        a[g, g] = -k
        if g > chain.start:
            a[g, g - 1] = 2 * k
