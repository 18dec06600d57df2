"""Nuclei by name: ``12C`` ↔ (Z=6, A=12), for any element up to Z = 118."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SYMBOLS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As "
    "Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu "
    "Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np "
    "Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()
_Z_OF = {s: z for z, s in enumerate(_SYMBOLS, start=1)}
_NAME = re.compile(r"^\s*(\d+)\s*([A-Za-z]{1,2})\s*$|^\s*([A-Za-z]{1,2})\s*-?\s*(\d+)\s*$")


class UnknownNucleusError(ValueError):
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
        if not 1 <= z <= len(_SYMBOLS) or a < z:
            raise UnknownNucleusError(f"no nucleus with Z={z}, A={a}")
        return cls(z, a)

    @classmethod
    def parse(cls, text: str) -> Nucleus:
        """``'56Fe'``, ``'Fe56'`` or ``'fe-56'`` → Nucleus(26, 56)."""
        match = _NAME.match(text)
        if not match:
            raise UnknownNucleusError(f"unknown nucleus {text!r}: write it as A then symbol, e.g. 12C, 56Fe")
        a, sym = (match[1], match[2]) if match[1] else (match[4], match[3])
        sym = sym.capitalize()
        if sym not in _Z_OF:
            raise UnknownNucleusError(f"unknown nucleus {text!r}: {sym!r} is not an element symbol")
        return cls.from_za(_Z_OF[sym], int(a))
