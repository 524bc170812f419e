"""The web view of a registry: a static site (`build_site`, `mreg site`) and a read-only server (`mreg ui`).

It reads the registry through its Python API only and is imported by no
other command, so it costs nothing to the rest of mreg.

    import mreg
    from mreg.web import build_site
    build_site(mreg.open("."), "site/")
"""

from __future__ import annotations

from mreg.web.site import build_site

__all__ = ["build_site"]
