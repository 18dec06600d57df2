"""Nuclei by name: ``12C`` ↔ (Z=6, A=12), for any known isotope of the elements up to Z = 118.

The rule for a nucleus that exists: (Z, A) is an isotope in the NIST table of atomic weights
and isotopic compositions, as the ``periodictable`` package carries it (stable and unstable
isotopes with measured masses; 2,939 of them, 1H to 294Og). ``999C`` and ``2C`` are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from enxs.errors import EnxsError

_SYMBOLS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As "
    "Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu "
    "Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np "
    "Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()
_Z_OF = {s: z for z, s in enumerate(_SYMBOLS, start=1)}
_NAME = re.compile(r"^\s*(\d+)\s*([A-Za-z]{1,2})\s*$|^\s*([A-Za-z]{1,2})\s*-?\s*(\d+)\s*$")


class UnknownNucleusError(EnxsError):
    """A nucleus name that is not A followed by an element symbol."""


@dataclass(frozen=True)
class Nucleus:
    """A nucleus: proton number Z, mass number A, conventional name ``<A><Symbol>``."""

    Z: int
    A: int

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self.Z - 1]

    @property
    def name(self) -> str:
        """E.g. ``12C``: the archive's file stem."""
        return f"{self.A}{self.symbol}"

    @property
    def nuwro_dir(self) -> str:
        """NuWro's sub-directory name, symbol then A: ``C12``, ``Fe56``."""
        return f"{self.symbol}{self.A}"

    @classmethod
    def from_za(cls, z: int, a: int) -> Nucleus:
        """The nucleus (Z, A); refused unless it is a known isotope (module docstring)."""
        if not 1 <= z <= len(_SYMBOLS):
            raise UnknownNucleusError(f"no element with Z={z} (1 to {len(_SYMBOLS)})")
        known = known_mass_numbers(z)
        if a not in known:
            raise UnknownNucleusError(f"no known nucleus {a}{_SYMBOLS[z - 1]} (Z={z}, A={a}): the NIST isotope table "
                                      f"has {_SYMBOLS[z - 1]} with A = {min(known)} to {max(known)}")
        return cls(z, a)

    @classmethod
    def parse(cls, text: str) -> Nucleus:
        """``'56Fe'``, ``'Fe56'`` or ``'fe-56'`` → Nucleus(26, 56)."""
        match = _NAME.match(text) if isinstance(text, str) else None
        if not match:
            raise UnknownNucleusError(f"unknown nucleus {text!r}: write it as A then symbol, e.g. 12C, 56Fe")
        a, sym = (match[1], match[2]) if match[1] else (match[4], match[3])
        sym = sym.capitalize()
        if sym not in _Z_OF:
            raise UnknownNucleusError(f"unknown nucleus {text!r}: {sym!r} is not an element symbol")
        return cls.from_za(_Z_OF[sym], int(a))


def parse_nuclei(option: str, names) -> list[str]:
    """Nucleus names (comma-separated, or a sequence) normalized (``Fe56`` → ``56Fe``); an unknown one is an
    :class:`UnknownNucleusError` naming ``option`` (``--nucleus``, ``--exclude``)."""
    try:
        return [Nucleus.parse(n).name for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    except UnknownNucleusError as exc:
        raise UnknownNucleusError(f"{option}: {exc}") from None


def is_free_nucleon(nucleus: str | Nucleus | None) -> bool:
    """Whether ``nucleus`` (a name or a Nucleus) is a free nucleon, A = 1; False for None and for a name that is
    no nucleus (its parsing, elsewhere, says why)."""
    if not isinstance(nucleus, str):
        return nucleus is not None and nucleus.A < 2
    try:
        return Nucleus.parse(nucleus).A < 2
    except EnxsError:
        return False


@cache
def known_mass_numbers(z: int) -> frozenset[int]:
    """Mass numbers of the known isotopes of element Z (NIST, via ``periodictable``)."""
    import periodictable

    return frozenset(periodictable.elements[z].isotopes)
