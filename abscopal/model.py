"""AbscopalModel: the lesions, the lymph node and blood, the drugs, and the treatments on Mesa's schedule.

Model time is in days since the first simulated day (``experiment.start_day``); ``model.day`` is the
day relative to day 0 (the reference day, usually the ablation). Mesa's step runs once a day: it
advances the biology by ``24 / time_step_h`` internal steps and records the day. Treatments are
Mesa events at their day; on a day with both, the day is recorded first, so the record of day 0
is the state just before a day-0 ablation. A treatment at a time between two records (a fraction at
day 0.5) happens in order with the biology: the biology is first advanced to its time, splitting
the internal step it falls in.

Early stopping (``experiment.stop_when_cleared``, ``experiment.stop_burden_cells``; off by default): the
run ends after the first day whose record shows no live tumour cell in any lesion (and no metastasis still
to come), or more live tumour cells in all lesions together than the limit (off study). The day's
scheduled treatments have happened by then; the time series ends with that day's record and
``model.events`` gets a ``stop`` entry (reason ``cleared`` or ``burden_limit``).
"""

from __future__ import annotations

import math

import mesa
import numpy as np
from threadpoolctl import threadpool_limits

from . import build
from .adjuvant import Adjuvant
from .drugs import Drug, Pharmacy
from .immune.circulation import CONSERVED, Circulation, section_scale
from .immune.dendritic_cells import DCSignals
from .immune.lymph_node import LymphNode, NodeSignals
from .immune.suppressors import SuppressorSignals, SystemicMDSCs
from .immune.t_cells import TCellSignals
from .lesion import Lesion
from .odes import hill
from .streams import Streams
from .treatments import Ablation, Dosing, Metastasis, Resection

class AbscopalModel(mesa.Model):
    """One run of one arm: built from the arm's resolved parameters and the replicate's seed.

    The runner passes ``params`` (the arm's, resolved), ``settings`` and the replicate's SeedSequence. The Mesa
    way, every argument optional: ``AbscopalModel(config=..., arm=..., seed=...)`` is replicate ``replicate``
    (default 0) of the experiment ``config`` (default experiments/cryo_checkpoint.toml) with the root seed ``seed``
    (default the experiment's), the first arm that combines ablation and a drug by default; ``overrides`` sets
    dotted config keys (``{"immune.kill_probability": 0.2}``); see :func:`abscopal.build.run_inputs`.
    """

    def __init__(self, params: dict | None = None, settings: dict | None = None,
                 seed: np.random.SeedSequence | int | None = None, snapshot_days=(), *, config=None,
                 arm: str | None = None, replicate: int = 0, overrides: dict | None = None):
        if params is None:
            params, settings, seed = build.run_inputs(config, arm, seed, replicate, overrides)
        elif config is not None or arm is not None or overrides is not None:
            raise TypeError("AbscopalModel: give params, settings and a SeedSequence, or config, arm and seed; not both")
        self.settings = settings
        self.streams = Streams(seed)
        super().__init__(rng=self.streams.generator("mesa"))
        self.params = params
        self.start_day = settings["start_day"]
        self.substeps = int(round(24.0 / settings["time_step_h"]))
        self.stop_when_cleared = settings.get("stop_when_cleared", False)
        self.stop_burden_cells = settings.get("stop_burden_cells", 0)
        self.stop: dict | None = None  # why and with how many cells the run stopped early (None: it did not)
        self.records: list[dict] = []
        self.snapshot_days = set(snapshot_days)
        self.snapshots: dict[str, np.ndarray] = {}  # "lesion/dayD/state" etc., see Lesion.snapshot
        self.events: list[dict] = []
        self.lesions: dict[str, Lesion] = {}
        self.biology_day = float(self.start_day)  # the day up to which the biology has been advanced
        self._stream_day = None  # the day whose random streams the lesions draw from
        self._treatment_events: list = []  # see in_order
        tr = params["trafficking"]
        # the conserved circulation's books (None: each section draws from the blood pool, as calibrated)
        self.circulation = (Circulation(tr, tr["blood_effector_elimination_per_day"],
                                        params["lymph_node"]["memory_fraction"])
                            if tr["circulation"] == CONSERVED else None)
        for name, spec in params["lesions"].items():
            self.add_lesion(name, spec)
            lesion = self.lesions[name]
            weight = 1.0 if self.circulation is None else self.scale(lesion)
            seeded = lesion.seed_resident_t_cells(params["immune"]["preexisting_effectors_per_mm2"], weight)
            if self.circulation is not None:  # they stand for the lesion's scale of cells: a source in the books
                self.circulation.preexisting += seeded * weight
        self.lymph_node = LymphNode(params["lymph_node"], tr["blood_effector_elimination_per_day"],
                                    params["dendritic_cells"]["lymph_node_death_per_day"], self.circulation)
        self._blood_step_start = self.lymph_node.blood_effectors  # at the last step's start
        self.systemic_mdscs = SystemicMDSCs(params["systemic_mdscs"], self.tumour_burden_mm3())
        drugs = {name: Drug(name, d["dose_mg_per_kg"], params["pharmacology"][name])
                 for name, d in params.get("drugs", {}).items()}
        self.pharmacy = Pharmacy(drugs)
        self.treatments = [Dosing(self, drugs[name], d) for name, d in params.get("drugs", {}).items()]
        if "ablation" in params:
            self.treatments.append(Ablation(self, params["ablation"], params))
        self.adjuvant = Adjuvant(self, params["adjuvant"], params) if "adjuvant" in params else None
        if "resection" in params:
            self.treatments.append(Resection(self, params["resection"]))
        for name, spec in params.get("metastases", {}).items():
            self.treatments.append(Metastasis(self, name, spec))
        self.record()

    # ---- time --------------------------------------------------------------------------------
    @property
    def day(self) -> float:
        """The current day relative to day 0."""
        return self.start_day + self.time

    def time_of(self, day: float) -> float:
        """Mesa time of a day relative to day 0."""
        return day - self.start_day

    def log_event(self, kind: str, target: str, **details) -> None:
        self.events.append({"kind": kind, "day": self.day, "target": target, **details})

    def add_lesion(self, name: str, spec: dict) -> None:
        self.lesions[name] = Lesion(name, spec, self.params, self.streams, created_day=self.day)

    # ---- dynamics ----------------------------------------------------------------------------
    def step(self) -> None:
        """One day: the internal steps (those a treatment earlier today has not run), then the day's record."""
        self.advance_to(self.day)
        self.record()

    def advance_to(self, day: float) -> None:
        """Advance the biology from where it stands to ``day`` by the internal steps of each day; a treatment
        between two steps splits that step, so that treatments and biology happen in order of time."""
        dt = 1.0 / self.substeps
        while self.biology_day < day - 1e-9:
            whole = self.start_day + math.floor(self.biology_day - self.start_day + 1e-9)  # the current day's start
            k = math.floor((self.biology_day - whole) / dt + 1e-9)  # its internal steps done
            if whole != self._stream_day:  # a new day's biology: its random streams (lesion, purpose, day)
                self._stream_day = whole
                for lesion in self.lesions.values():
                    lesion.new_day(round(whole))
            end = min(whole + (k + 1) * dt, day)
            self.advance(self.biology_day, end - self.biology_day)
            self.biology_day = end

    def in_order(self, treatment):
        """``treatment`` as an event on Mesa's schedule: the biology first catches up to the event's time.

        The model keeps the event alive (Mesa's schedule holds only a weak reference to it)."""
        def event() -> None:
            self.advance_to(self.day)
            treatment()

        self._treatment_events.append(event)
        return event

    def advance(self, day: float, dt: float) -> None:
        """Advance every compartment from ``day`` by ``dt`` days."""
        p = self.params
        occ = {name: self.pharmacy.occupancy(name, day + dt / 2) for name in ("anti_pd1", "anti_pd_l1", "anti_ctla4")}
        pd1_free = (1.0 - occ["anti_pd1"]) * (1.0 - occ["anti_pd_l1"])
        treg_depletion = p["suppressors"]["treg_depletion_per_day_max"] * occ["anti_ctla4"]  # in lesions
        ln = self.lymph_node
        blood_mid = self.blood_effectors_mid_step()
        mature_in = tolerogenic_in = apoptotic_tolerogenic_in = recruited = 0.0
        returned = np.zeros(2)  # effectors that left lesions for the blood: primary, memory-derived (conserved)
        by_lesion = []  # what each lesion's DCs bring to its own node (lymph_node.draining_nodes = "per_lesion")
        mdscs, burden_start = self.systemic_mdscs, self.tumour_burden_mm3()
        mdsc_level_start = mdscs.level
        entering = {}  # T cells each lesion's section admits over the step
        for name, lesion in self.lesions.items():
            n = lesion.rng["t_cell_entry"].poisson(self.influx_per_day(lesion, blood_mid) * dt) if not lesion.resected else 0
            entering[name] = n if self.circulation is not None else min(n, int(ln.blood_effectors))
        if self.circulation is not None:  # the lesions take what they admit, times their scale, out of the blood
            admissions = self.circulation.draw_admissions(
                {name: (n, self.scale(self.lesions[name])) for name, n in entering.items()}, ln.secondary_share,
                ln.x, ln.at, {name: lesion.rng["t_cell_entry"] for name, lesion in self.lesions.items()})
        else:
            recruited = float(sum(entering.values()))
        for lesion in self.lesions.values():
            lesion.fields.begin_step()
            entry = lesion.rng["t_cell_entry"]
            lesion.grow(day, dt)
            live = lesion.tissue.live_sites()
            lesion.spontaneous_death(dt, live)
            lesion.delayed_radiation_death(dt, live)
            if self.circulation is None:
                lesion.t_cells.admit(entering[lesion.name], lesion, day, entry, ln.secondary_share, over_days=dt)
            else:
                secondary, weight = admissions[lesion.name]
                if not lesion.t_cells.admit(entering[lesion.name], lesion, day, entry, over_days=dt,
                                            secondary=secondary, weight=weight):  # no tissue left: back to the blood
                    self.circulation.move(ln.x, ln.at, weight[~secondary].sum(), weight[secondary].sum())
            # the PD-1 signal: receptors left free by the drugs x the PD-1 expression that Tregs sustain
            lesion.t_cells.step(lesion, TCellSignals(day, dt, pd1_free * lesion.suppressors.pd1_expression,
                                                     lesion.suppressors.suppression, lesion.rng["t_cells"]))
            lesion.tissue.clear_dead(dt, lesion.rng["clearance"])  # after every death of the step: each is cleared as the others
            antigen, damp, apoptotic_share = lesion.fields.antigen_for_dcs(dt)
            m, t = lesion.dcs.step(DCSignals(dt, antigen, damp, apoptotic_share,
                                             self.adjuvant_signal(lesion.name, day + dt / 2)))
            lesion.fields.update(dt, lesion.t_cells)
            lesion.update_pd_l1(dt, live)
            mature_in += m
            tolerogenic_in += t
            apoptotic_tolerogenic_in += lesion.dcs.apoptotic_tolerogenic_out
            by_lesion.append((lesion.name, m, t, lesion.dcs.apoptotic_tolerogenic_out))
            lesion.suppressors.step(SuppressorSignals(
                dt, lesion.t_cells.active_count(), lesion.t_cells.size, entering[lesion.name], ln.treg_level,
                treg_depletion, lesion.tissue.area_mm2(), lesion.injury_inflammation_over(dt), mdsc_level_start))
            lesion.resolve_inflammation(dt)
            if self.circulation is not None:
                returned += lesion.t_cells.egress(self.circulation.egress, dt, lesion.rng["t_cell_egress"])
        self._blood_step_start = ln.blood_effectors
        mdscs.step(dt, burden_start, self.tumour_burden_mm3())
        rest_share = 1.0 - sum(lesion.blood_flow_share for lesion in self.lesions.values())
        ln.step(NodeSignals(dt, mature_in, tolerogenic_in, recruited, occ["anti_ctla4"], apoptotic_tolerogenic_in,
                            tuple(by_lesion), mdsc_level=0.5 * (mdsc_level_start + mdscs.level),
                            rest_of_body_share=rest_share))
        if self.circulation is not None:  # those that left the lesions during the step reach the blood at its end
            self.circulation.move(ln.x, ln.at, *returned)

    def tumour_burden_mm3(self) -> float:
        """The total live tumour volume of all lesions, mm³ (each lesion's ``Tissue.live_volume_mm3``)."""
        return sum(lesion.tissue.live_volume_mm3() for lesion in self.lesions.values())

    def adjuvant_signal(self, lesion: str, day: float) -> float:
        """The adjuvant's DC maturation signal (0-1) in a lesion on a day (0 without an adjuvant)."""
        return self.adjuvant.maturation_signal(lesion, day) if self.adjuvant else 0.0

    def blood_effectors_mid_step(self) -> float:
        """Blood effectors at the coming step's midpoint, extrapolated from the last step's change (they
        rise and fall over days; taking the step's start would make T-cell entry lag by half a step)."""
        now = self.lymph_node.blood_effectors
        return max(now + 0.5 * (now - self._blood_step_start), 0.0)

    def influx_per_day(self, lesion: Lesion, blood_effectors: float) -> float:
        """Effectors entering a lesion's section per day: its area x capacity, saturating in the effectors its blood
        flow brings (``blood_effectors``: the blood pool). In the conserved circulation the cap is per volume, over
        the section's slab one cell thick (the whole lesion takes this times its scale)."""
        tr = self.params["trafficking"]
        flowing = lesion.blood_flow_share * blood_effectors
        area_mm2 = lesion.tissue.area_mm2()
        cap = (tr["influx_max_per_mm2_per_day"] if self.circulation is None
               else tr["influx_max_per_mm3_per_day"] * lesion.cell_um / 1000.0)
        return cap * area_mm2 * lesion.recruitment_capacity * float(hill(flowing, tr["effector_half_saturation"]))

    def scale(self, lesion: Lesion) -> float:
        """Cells of the whole lesion that one T cell of its section stands for (``circulation.section_scale``)."""
        return section_scale(lesion.tissue.area_mm2(), lesion.cell_um)

    # ---- records -----------------------------------------------------------------------------
    def record(self) -> None:
        """Append today's rows: one per lesion, one for the systemic compartments."""
        for name, lesion in self.lesions.items():
            books = {} if self.circulation is None else self.circulation.lesion_record(lesion.t_cells)
            self.records.append({"time_day": self.day, "lesion": name, **lesion.counts(), **books})
        systemic = {"time_day": self.day, "lesion": "systemic", **self.lymph_node.record(), **self.systemic_mdscs.record(),
                    **self.pharmacy.record(self.day)}
        self.records.append(systemic)
        if self.day in self.snapshot_days:
            for name, lesion in self.lesions.items():
                for key, array in lesion.snapshot().items():
                    self.snapshots[f"{name}/day{self.day:g}/{key}"] = array

    def run(self, end_day: float) -> None:
        """Run until ``end_day`` (relative to day 0), or until the day an early-stopping condition is met.

        On one BLAS thread: the fields' diffusion multiplies small matrices, which more threads only slow
        down (measured: a default run took 8.3 s wall and 16 s CPU on two threads, 2.1 s on one).
        """
        with threadpool_limits(limits=1, user_api="blas"):
            while self.day < end_day - 1e-9 and not self.check_stop():
                self.run_until(min(self.time + 1.0, self.time_of(end_day)))
        if self.stop is None and not math.isclose(self.day, end_day):
            raise RuntimeError(f"stopped at day {self.day}, expected {end_day}")

    def check_stop(self) -> bool:
        """Whether today's record meets an early-stopping condition; if so, log the ``stop`` event."""
        if not (self.stop_when_cleared or self.stop_burden_cells):
            return False
        cells = 0
        for row in reversed(self.records):  # today's rows are the last ones
            if row["time_day"] != self.day:
                break
            if row["lesion"] != "systemic":
                cells += row["tumor_cells"]
        if self.stop_burden_cells and cells > self.stop_burden_cells:
            self.stop = {"reason": "burden_limit", "tumor_cells": cells, "limit_cells": self.stop_burden_cells}
        elif (self.stop_when_cleared and cells == 0  # a metastasis seeded today has no record yet: to come
              and not any(spec["day"] >= self.day for spec in self.params.get("metastases", {}).values())):
            self.stop = {"reason": "cleared", "tumor_cells": 0}
        if self.stop is not None:
            self.log_event("stop", "all lesions", **self.stop)
        return self.stop is not None
