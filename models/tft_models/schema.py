"""The feature schema's hash (docs/features.md): FNV-1a 64 of "{version}\\n" + "\\n".join(names).

The training code takes the names and version from the export (CSV header and
`<csv>.meta.json`), never from a list of its own: a schema change in the Rust feature code
reaches the models by re-exporting, and the hash ties the bundle to that code.
"""

from __future__ import annotations


def schema_hash(version: int, names: list[str]) -> str:
    h = 0xCBF29CE484222325
    for b in (f"{version}\n" + "\n".join(names)).encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"
