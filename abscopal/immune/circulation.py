"""Where the effector T cells are: the blood, the rest of the body, each lesion, or dead (issue 9, item 1).

With ``trafficking.circulation = "conserved"`` every effector the lymph node makes is counted until it dies, and
the counts balance: the naive cells activated, their daughters born in the node and the pre-existing effectors
equal the cells dividing in the node, the memory cells, the blood, the rest of the body, the lesions and the dead
(by where they died). The default ``"section_pool"`` is the model of before: each lesion's section draws from the
blood independently and takes only its own section's admissions out of it.

- Circulating cells pass each compartment by its share of the cardiac output (Poleszczuk et al. 2016; Walker et
  al. 2018): a lesion by its ``blood_flow_share`` (through the saturating recruitment of ``influx_per_day``), the rest
  of the body by the remainder, which they enter at ``trafficking.rest_of_body_entry_per_day`` x that share and
  leave back to the blood at ``rest_of_body_return_per_day``. In the blood and the rest of the body they die at
  ``blood_effector_elimination_per_day`` (Kosinsky 2018), and the contracting primary effectors of both become
  memory precursors in the node's ``memory_fraction``.
- A section stands for its lesion: a sphere of the section's equivalent radius r over a slab one cell (diameter
  d) thick, so each T cell admitted to the section stands for ``section_scale`` = 4r/(3d) cells of the lesion
  (233 for a 7 mm lesion of 20 µm cells), carries that weight, and takes it out of the blood. When the blood
  holds less than the lesions want, they share it in proportion (``share_of_want``).
- Active effectors leave a lesion back to the blood at ``trafficking.lesion_egress_per_day``; in a lesion they die
  as its T cells do (lifespan), and with it when it is resected.
- Nothing is clamped: a negative count raises (``check_counts``).

The blood and the rest of the body are compartments of the lymph node's linear system (``Compartments``), advanced
exactly with it; this module adds their rates (``add_rates``) and keeps the books.
"""

from __future__ import annotations

import math

import numpy as np

SECTION_POOL, CONSERVED = "section_pool", "conserved"
#: The columns the conserved circulation adds to the time series (cells): of each lesion's rows, of the systemic row.
LESION_COLUMNS = ("effectors_whole_lesion", "effectors_died_in_lesion")
SYSTEMIC_COLUMNS = ("rest_of_body_effectors", "memory_derived_blood_effectors", "memory_derived_rest_of_body_effectors",
                    "effectors_died_in_blood", "effectors_died_in_rest_of_body", "effectors_born_in_node",
                    "preexisting_effectors_seeded")


def section_scale(area_mm2: float, cell_um: float) -> float:
    """Cells of a lesion that one T cell of its section stands for: the volume of a sphere of the section's equivalent
    radius r = sqrt(area / pi) over that of the section, a slab one cell (d = ``cell_um``) thick: 4r / (3d).
    0 for a section without tissue."""
    if area_mm2 <= 0:
        return 0.0
    return 4.0 * math.sqrt(area_mm2 / math.pi) / (3.0 * cell_um / 1000.0)


def share_of_want(want: float, available: float) -> float:
    """The fraction of what the lesions want (cells) that each gets from a pool holding ``available`` cells: all of
    it while the pool holds enough, else the pool shared in proportion to each lesion's want."""
    if want < 0 or available < 0:
        raise ValueError(f"want = {want:g}, available = {available:g} cells: expected counts of at least 0")
    return 1.0 if want <= available else available / want


def check_counts(counts: dict[str, float], tolerance: float) -> None:
    """Raise if any count (cells) is below -``tolerance`` (round-off of the exact step is left as it is, not
    clamped), naming the compartment and its value."""
    for name, value in counts.items():
        if not value >= -tolerance:  # NaN fails too
            raise ValueError(f"{name} = {value:g} cells: a count of cells cannot be negative (tolerance {tolerance:g}); "
                             "the circulation's books no longer balance")


class Circulation:
    """The circulation's parameters (section ``trafficking``) and the books outside the node's linear system: the
    pre-existing effectors that entered the lesions as a source."""

    def __init__(self, trafficking: dict, elimination_per_day: float, memory_fraction: float):
        self.rest_entry = trafficking["rest_of_body_entry_per_day"]
        self.rest_return = trafficking["rest_of_body_return_per_day"]
        self.egress = trafficking["lesion_egress_per_day"]
        self.elimination = elimination_per_day
        self.memory_fraction = memory_fraction
        self.preexisting = 0.0  # pre-existing effectors seeded into lesions, weighted by their lesion's scale (cells)

    def add_rates(self, a: np.ndarray, at, k: float, rest_share: float) -> None:
        """Into the node's rate matrix ``a`` (indices ``at``): exchange of blood and the rest of the body, death and
        memory formation there, the dead by place, and the cells born by division (``k``: divisions per day)."""
        e, r, elim, mf = self.rest_entry * rest_share, self.rest_return, self.elimination, self.memory_fraction
        for blood, rest in ((at.blood, at.rest), (at.primary, at.rest_primary)):
            a[blood, blood] -= e
            a[rest, blood] += e
            a[rest, rest] -= r + elim
            a[blood, rest] += r
        a[at.precursor_stages.start, at.rest_primary] += mf * elim  # contracting primary effectors become memory
        a[at.died_in_blood, at.blood] += elim
        a[at.died_in_blood, at.primary] -= mf * elim
        a[at.died_in_rest, at.rest] += elim
        a[at.died_in_rest, at.rest_primary] -= mf * elim
        for chain in (at.generations, at.memory_generations):  # a division makes one cell two
            a[at.born, chain] += k

    def draw_admissions(self, wants: dict[str, tuple[int, float]], secondary_share: float, x: np.ndarray, at,
                        rngs: dict[str, np.random.Generator]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The T cells each lesion's section admits, ``wants``: lesion -> (T cells, scale). Each is memory-derived
        with probability ``secondary_share``; its weight is the lesion's scale, times the share of its pool (primary
        or memory-derived blood effectors) when the lesions want more than the pool holds. The weights are taken out
        of the blood in ``x`` here. Returns lesion -> (secondary flags, weights)."""
        flags = {name: rngs[name].random(n) < secondary_share for name, (n, _) in wants.items()}
        want_secondary = sum(flags[name].sum() * scale for name, (_, scale) in wants.items())
        want_primary = sum((n - flags[name].sum()) * scale for name, (n, scale) in wants.items())
        blood_primary = float(x[at.primary])
        f_primary = share_of_want(want_primary, max(blood_primary, 0.0))
        f_secondary = share_of_want(want_secondary, max(float(x[at.blood]) - blood_primary, 0.0))
        admissions = {name: (flags[name], np.where(flags[name], scale * f_secondary, scale * f_primary))
                      for name, (_, scale) in wants.items()}
        self.move(x, at, -want_primary * f_primary, -want_secondary * f_secondary)
        return admissions

    def move(self, x: np.ndarray, at, primary: float, secondary: float) -> None:
        """Add ``primary`` and ``secondary`` (memory-derived) effectors to the blood in ``x`` (negative: take them)."""
        x[at.blood] += primary + secondary
        x[at.primary] += primary
        self.check(x, at)

    def check(self, x: np.ndarray, at) -> None:
        """Raise if a count of the node's linear system is negative beyond round-off (1e-9 of the largest)."""
        names = {"blood effectors": at.blood, "primary blood effectors": at.primary, "rest-of-body effectors": at.rest,
                 "primary rest-of-body effectors": at.rest_primary}
        counts = {name: float(x[i]) for name, i in names.items()}
        counts["memory-derived blood effectors"] = counts["blood effectors"] - counts["primary blood effectors"]
        counts["memory-derived rest-of-body effectors"] = (counts["rest-of-body effectors"]
                                                           - counts["primary rest-of-body effectors"])
        counts |= {f"node compartment {j}": float(v) for j, v in enumerate(x)}
        check_counts(counts, 1e-9 * max(1.0, float(np.abs(x).max())))

    def record(self, x: np.ndarray, at) -> dict[str, float]:
        """The systemic row's columns of the books (cells), ``SYSTEMIC_COLUMNS``."""
        values = (x[at.rest], x[at.blood] - x[at.primary], x[at.rest] - x[at.rest_primary], x[at.died_in_blood],
                  x[at.died_in_rest], x[at.born], self.preexisting)
        return dict(zip(SYSTEMIC_COLUMNS, map(float, values)))

    @staticmethod
    def lesion_record(t_cells) -> dict[str, float]:
        """A lesion row's columns of the books (cells), ``LESION_COLUMNS``: the whole lesion's effectors (the weights
        of its section's T cells) and those that died there."""
        return dict(zip(LESION_COLUMNS, (float(t_cells.weight.sum()), t_cells.dead_weight)))
