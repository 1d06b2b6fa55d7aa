"""Treatments and clinical events as small objects whose ``apply`` is an event on Mesa's schedule.

Each is created from its table in the arm's config, schedules itself on the model, and writes an
entry in ``model.events`` when it happens (kind, day, target, details).
"""

from __future__ import annotations

from functools import partial

from mesa.time import Schedule

from . import ablation as modalities
from .drugs import Drug
from .lesion.tissue import NECROTIC

PHYSICS = {"cryo": "cryoablation", "heat": "heat_ablation", "radiotherapy": "radiotherapy"}
PROCEDURE_KEYS = ("modality", "lesion", "day", "margin_mm", "probe_offset_mm", "fractions", "fraction_interval_days")


class Ablation:
    """Cryoablation, heat ablation or radiotherapy (one event per fraction) of one lesion."""

    def __init__(self, model, settings: dict, params: dict):
        self.model = model
        self.settings = settings
        modality = settings["modality"]
        physics = {k: v for k, v in settings.items() if k not in PROCEDURE_KEYS}
        physics.update(params[PHYSICS[modality]])
        self.zone = partial(modalities.MODALITIES[modality], **physics)
        rel = params["release"]
        self.quality = rel[f"antigen_quality_{modality}"]
        # radiotherapy's DAMP yield depends on each cell's dose (the zone's damp_yield), the others' on the modality
        self.damp_factor = 1.0 if modality == "radiotherapy" else rel[f"damp_yield_{modality}"]
        self.oxygen = params["oxygen"] if modality == "radiotherapy" else None  # radiation kills by the cells' pO2
        at = model.time_of(settings["day"])
        if modality == "radiotherapy":
            model.schedule_recurring(
                model.in_order(self.apply),
                Schedule(interval=settings["fraction_interval_days"], start=at, count=settings["fractions"]),
            )
        else:
            model.schedule_event(model.in_order(self.apply), at=at)

    def apply(self) -> None:
        lesion = self.model.lesions[self.settings["lesion"]]
        killed = lesion.ablate(self.zone, self.settings, self.quality, self.damp_factor, self.oxygen)
        self.model.log_event("ablation", self.settings["lesion"], modality=self.settings["modality"], **killed)


class Dosing:
    """A checkpoint inhibitor given on a schedule (start day, interval, number of doses)."""

    def __init__(self, model, drug: Drug, schedule: dict):
        self.model = model
        self.drug = drug
        model.schedule_recurring(
            model.in_order(self.give),
            Schedule(interval=schedule["interval_days"], start=model.time_of(schedule["start_day"]),
                     count=schedule["doses"]),
        )

    def give(self) -> None:
        self.drug.dose_days.append(self.model.day)
        self.model.log_event("dose", self.drug.name, dose_nm=self.drug.dose_nm)


class Resection:
    """Surgical removal of a lesion at a day."""

    def __init__(self, model, settings: dict):
        self.model = model
        self.lesion = settings["lesion"]
        model.schedule_event(model.in_order(self.apply), at=model.time_of(settings["day"]))

    def apply(self) -> None:
        self.model.lesions[self.lesion].resect()
        self.model.log_event("resection", self.lesion)


class Metastasis:
    """A new lesion seeded at a day with its own size and blood-flow share.

    A rechallenge is an injected inoculum: a fraction of its cells dies by necrosis on seeding
    (``necrotic_fraction``), releasing antigen and DAMPs as any necrotic death does.
    """

    def __init__(self, model, name: str, spec: dict):
        self.model = model
        self.name = name
        self.spec = spec
        model.schedule_event(model.in_order(self.apply), at=model.time_of(spec["day"]))

    def apply(self) -> None:
        self.model.add_lesion(self.name, self.spec)
        necrotic = 0
        if self.spec["necrotic_fraction"] > 0:
            lesion = self.model.lesions[self.name]
            sites = lesion.tissue.live_sites()
            dying = lesion.rng["death"].random(sites.size) < self.spec["necrotic_fraction"]
            lesion.kill(sites[dying], NECROTIC, quality=1.0, damp_factor=1.0)
            necrotic = int(dying.sum())
        self.model.log_event("metastasis", self.name, diameter_mm=self.spec["diameter_mm"], necrotic=necrotic)
