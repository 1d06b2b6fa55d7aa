"""An immune adjuvant injected into a lesion: CpG oligodeoxynucleotides, a TLR9 agonist.

TLR9 ligation matures dendritic cells whatever the DAMPs (den Brok et al. 2006: cryoablation plus
peritumoral CpG matured the draining-node DCs that carried tumour antigen, and protected against
rechallenge where cryoablation alone protected only partly). Each injection gives the lesion's
antigen-loaded DCs a maturation signal (0-1, the fraction of the maximal maturation rate) that
wanes with the agent's local half-life; signals of several injections combine like independent
stimuli, 1 - prod(1 - s_i). The signal adds to the DAMP-driven one in
``LesionDendriticCells.step``, so fewer loaded DCs stay immature and tolerogenic.
"""

from __future__ import annotations

import math

from mesa.time import Schedule

AGENTS = {"cpg": "tlr9_agonist"}  # agent -> the parameter section of its biology


class Adjuvant:
    """Injections of an adjuvant into one lesion on a schedule (first day, interval, number)."""

    def __init__(self, model, settings: dict, params: dict):
        self.model = model
        self.lesion = settings["lesion"]
        self.agent = settings["agent"]
        biology = params[AGENTS[self.agent]]
        self.signal_at_injection = biology["maturation_signal"]
        self.decay_per_day = math.log(2.0) / biology["half_life_days"]
        self.injection_days: list[float] = []
        model.schedule_recurring(
            model.in_order(self.inject),
            Schedule(interval=settings["interval_days"], start=model.time_of(settings["day"]),
                     count=settings["injections"]),
        )

    def inject(self) -> None:
        self.injection_days.append(self.model.day)
        self.model.log_event("adjuvant", self.lesion, agent=self.agent)

    def maturation_signal(self, lesion: str, day: float) -> float:
        """The TLR9-driven DC maturation signal (0-1) in ``lesion`` on ``day``."""
        if lesion != self.lesion:
            return 0.0
        unstimulated = 1.0
        for given in self.injection_days:
            if given <= day:
                unstimulated *= 1.0 - self.signal_at_injection * math.exp(-self.decay_per_day * (day - given))
        return 1.0 - unstimulated
