"""One lesion: its tissue (``tissue``: the lattice of tumour cells, growth, death, clearance), its
microenvironment (``fields``: antigen, DAMPs, IFN-γ), its shape (``geometry``), its infiltrate (effector
T cells) and its local immune compartments (DCs, suppressors), and the inflammation that injury leaves.

A new kind of field, cell or lattice is a new part here, composed by ``Lesion``; the T cells see the lesion
through ``state``, ``pd_l1``, ``antigenicity``, ``window``, ``outer_edge``, ``pixel_of``, ``live_density`` and ``kill``.
"""

from __future__ import annotations

import math

import numpy as np

from ..immune.dendritic_cells import LesionDendriticCells
from ..immune.suppressors import Suppressors
from ..immune.t_cells import EffectorTCells
from ..oxygen import po2_mmhg
from .fields import Fields
from .tissue import APOPTOTIC, LIVE, NECROTIC, Tissue


class Lesion:
    """A lesion's cells, fields, infiltrate and local immune compartments."""

    def __init__(self, name: str, spec: dict, params: dict, streams, created_day: float):
        self.name = name
        self.params = params
        self.blood_flow_share = spec["blood_flow_share"]
        self.recruitment_capacity = spec["recruitment_capacity"]
        self.created_day = created_day
        self.resected = False
        self.streams = streams
        self.rng = streams.daily(name)  # by purpose; re-keyed each day by ``new_day``
        self.tissue = Tissue(spec, params, self.rng["growth"])
        self.cell_um = self.tissue.cell_um
        self.fields = Fields(self.tissue.state.shape[0], self.cell_um, params)
        self.t_cells = EffectorTCells(params["immune"])
        self.dcs = LesionDendriticCells(params["dendritic_cells"])
        self.suppressors = Suppressors(params["suppressors"], params["inflammation"]["mdsc_capacity_per_mm2"])
        self.injury_inflammation = 0.0  # inflammation (0-1) left by sublethal injury of the surviving cells

    # ---- what the T cells see ----------------------------------------------------------------
    @property
    def state(self) -> np.ndarray:
        return self.tissue.state

    @property
    def pd_l1(self) -> np.ndarray:
        return self.tissue.pd_l1

    @property
    def antigenicity(self) -> np.ndarray:
        return self.tissue.antigenicity

    def window(self, pad: int = 1) -> tuple[slice, slice]:
        """The bounding box of the tissue, padded by ``pad`` sites (clipped at the domain)."""
        return self.tissue.window(pad)

    def outer_edge(self, rs: slice, cs: slice) -> np.ndarray:
        """Tissue sites on the lesion's outer edge (as measured at the start of the day)."""
        return self.tissue.outer_edge(rs, cs)

    def pixel_of(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Flat index of the field pixel of lattice sites (rows, cols)."""
        return self.fields.pixel_of(rows, cols)

    def live_density(self) -> np.ndarray:
        """Fraction of each field pixel's sites holding a live tumour cell (the chemokine source)."""
        return self.fields.share_per_pixel(self.tissue.state, LIVE, *self.tissue.window(pad=0))

    def kill(self, sites: np.ndarray, mode: int, quality: float, damp_factor: float,
             damps: np.ndarray | None = None) -> None:
        """Cells at flat indices ``sites`` die by ``mode`` and release antigen and DAMPs: their mode's DAMPs per cell
        x ``damp_factor``, or ``damps`` (per cell) when given (radiation deaths: their damage's yield)."""
        rel = self.params["release"]
        per_cell = rel["necrotic_antigen_per_cell"] if mode == NECROTIC else rel["apoptotic_antigen_per_cell"]
        damp = rel["necrotic_damp_per_cell"] if mode == NECROTIC else rel["apoptotic_damp_per_cell"]
        if damps is not None:
            damp, damp_factor = damps, 1.0
        self.tissue.state.reshape(-1)[sites] = mode
        self.tissue.lethal_damage.reshape(-1)[sites] = 0
        self.fields.release(sites, per_cell * quality * self.tissue.antigenicity.reshape(-1)[sites],
                            damp * damp_factor, apoptotic=mode == APOPTOTIC)

    def seed_resident_t_cells(self, per_mm2: float, weight: float = 1.0) -> int:
        """The lesion's pre-existing tumour-specific effectors on its creation day: a Poisson number with mean
        ``per_mm2`` x its tissue area (``EffectorTCells.seed_resident``), from a stream of their own, each standing
        for ``weight`` cells of the lesion. Returns the number seeded."""
        if per_mm2 <= 0:
            return 0
        rng = self.streams.generator(self.name, "resident_t_cells")
        return self.t_cells.seed_resident(int(rng.poisson(per_mm2 * self.tissue.area_mm2())), self, self.created_day,
                                          rng, weight)

    # ---- a step ------------------------------------------------------------------------------
    def new_day(self, day: int) -> None:
        """Random streams for the day (keyed by lesion, purpose and day): arms whose histories diverged
        draw the same numbers for the same purpose again."""
        self.rng = self.streams.daily(self.name, day)

    def grow(self, day: float, dt: float) -> None:
        """The tissue grows (``Tissue.grow``), faster while injury inflames it."""
        rate = self.params["tumour"]["growth_rate_per_day"] * (
            1.0 + self.params["inflammation"]["proliferation_boost"] * self.injury_inflammation_over(dt))
        catastrophes = self.tissue.grow(day, dt, rate, self.rng)
        if catastrophes.size:  # doomed cells that attempted mitosis: necrotic or apoptotic
            share = self.params["radiation_damage"]["mitotic_death_necrosis_fraction"]
            necrotic = self.rng["death"].random(catastrophes.size) < share
            self._die_of_damage(catastrophes[necrotic], NECROTIC)
            self._die_of_damage(catastrophes[~necrotic], APOPTOTIC)

    def spontaneous_death(self, dt: float, live: np.ndarray) -> None:
        """Live cells (flat indices ``live``) die by apoptosis at the spontaneous death rate."""
        self.kill(self.tissue.dying(dt, live, self.rng["death"]), APOPTOTIC, quality=1.0, damp_factor=1.0)

    def delayed_radiation_death(self, dt: float, live: np.ndarray) -> None:
        """Lethally damaged cells among the live ones (flat indices ``live``) die by delayed apoptosis."""
        self._die_of_damage(self.tissue.dying_of_damage(dt, live, self.rng["death"]), APOPTOTIC)

    def _die_of_damage(self, sites: np.ndarray, mode: int) -> None:
        """Lethally damaged cells at flat ``sites`` die by ``mode``, releasing the DAMPs of their damage (the yield
        of a radiation death, in units of a necrotic death's DAMPs, whatever the mode: immunogenic death)."""
        rel = self.params["release"]
        self.kill(sites, mode, quality=rel["antigen_quality_radiotherapy"], damp_factor=1.0,
                  damps=rel["necrotic_damp_per_cell"] * self.tissue.damage_damp_yield.reshape(-1)[sites])

    def update_pd_l1(self, dt: float, live: np.ndarray) -> None:
        """PD-L1 of the cells live at the step's start relaxes toward the level the IFN-γ field induces."""
        self.tissue.update_pd_l1(dt, live, self.fields.ifn / self.fields.pixel_mm2, self.fields.pixel)

    # ---- treatments --------------------------------------------------------------------------
    def ablate(self, zone_fn, settings: dict, quality: float, damp_factor: float, oxygen: dict | None = None) -> dict:
        """Apply an ablation zone centred on the lesion (plus the probe offset); returns the kill counts.

        With ``oxygen`` (the section's parameters; radiotherapy) the zone gets each cell's pO2 (``oxygen.po2_mmhg``
        of its depth below the lesion's outer edge). Cells the zone damages lethally stay alive, doomed to die at a
        mitosis or by delayed apoptosis, with the DAMPs of their dose (``Tissue.lethal_damage``).
        """
        rs, cs = self.window(pad=0)
        r, c = np.nonzero(self.state[rs, cs] == LIVE)
        if r.size == 0:
            return {"necrotic": 0, "apoptotic": 0}
        r, c = r + rs.start, c + cs.start
        mm = self.cell_um / 1000.0
        cr, cc = r.mean(), c.mean() + settings["probe_offset_mm"] / mm
        lesion_radius_mm = math.sqrt(((r - r.mean()) ** 2 + (c - c.mean()) ** 2).max()) * mm + mm / 2
        distance_mm = np.hypot(r - cr, c - cc) * mm
        extra = {}
        if oxygen is not None:
            depth = self.tissue.depth_um(r, c)
            extra["po2_mmhg"] = po2_mmhg(depth, oxygen["edge_po2_mmhg"], oxygen["diffusion_distance_um"])
        zone = zone_fn(distance_mm, max(lesion_radius_mm + settings["margin_mm"], mm), **extra)  # at least one cell
        u = self.rng["ablation"].random(r.size)
        necrotic = u < zone.necrosis
        apoptotic = ~necrotic & (u < zone.necrosis + zone.apoptosis)
        sites = r * self.state.shape[1] + c
        # radiation deaths release their dose's yield of a necrotic death's DAMPs, whatever the mode
        damps = None if zone.damp_yield is None else self.params["release"]["necrotic_damp_per_cell"] * zone.damp_yield
        for mode, dying in ((NECROTIC, necrotic), (APOPTOTIC, apoptotic)):
            self.kill(sites[dying], mode, quality, damp_factor, None if damps is None else damps[dying])
        survived = ~(necrotic | apoptotic)
        counts = {"necrotic": int(necrotic.sum()), "apoptotic": int(apoptotic.sum())}
        if zone.lethal_damage is not None:
            damaged = survived & (u < zone.necrosis + zone.apoptosis + zone.lethal_damage)
            fresh = damaged & (self.tissue.lethal_damage.reshape(-1)[sites] == 0)  # a damaged cell stays as it was
            self.tissue.lethal_damage.reshape(-1)[sites[fresh]] = self.params["radiation_damage"]["abortive_divisions"] + 1
            self.tissue.damage_damp_yield.reshape(-1)[sites[fresh]] = zone.damp_yield[fresh]
            counts["lethally_damaged"] = int(damaged.sum())
        if zone.injury is not None and survived.any():
            # the residual tumour's inflammation grows with the mean sublethal injury of its surviving cells
            new = min(1.0, self.params["inflammation"]["per_injury"] * float(zone.injury[survived].mean()))
            self.injury_inflammation = 1.0 - (1.0 - self.injury_inflammation) * (1.0 - new)
        return counts

    def injury_inflammation_over(self, dt: float) -> float:
        """Injury inflammation at the midpoint of the coming step of dt days (it resolves exponentially)."""
        return self.injury_inflammation * math.exp(-self.params["inflammation"]["resolution_per_day"] * dt / 2)

    def resolve_inflammation(self, dt: float) -> None:
        """Injury inflammation resolves over dt days."""
        self.injury_inflammation *= math.exp(-self.params["inflammation"]["resolution_per_day"] * dt)

    def resect(self) -> None:
        """Surgery: every cell, T cell and field is removed; the lesion no longer draws T cells."""
        self.tissue.clear()
        self.fields.clear()
        self.t_cells.remove_all()
        self.resected = True
        self.blood_flow_share = 0.0

    # ---- readouts ----------------------------------------------------------------------------
    def counts(self) -> dict[str, float]:
        """This lesion's row of the time series: the columns each part contributes."""
        return {
            **self.tissue.record(),
            **self.fields.record(),
            "effector_t_cells": self.t_cells.active_count(),
            "exhausted_t_cells": self.t_cells.exhausted_count(),
            **self.suppressors.record(),
            "injury_inflammation": self.injury_inflammation,
            **self.dcs.record(),
            "blood_flow_share": self.blood_flow_share,
        }

    def snapshot(self) -> dict[str, np.ndarray]:
        """The lattice as it is now: cell states, PD-L1, and T cells (row, col, exhausted)."""
        tc = self.t_cells
        return {
            "state": self.state.copy(),
            "pd_l1": self.pd_l1.copy(),
            "t_cells": np.column_stack([tc.row, tc.col, tc.exhausted.astype(np.int64)]),
        }
