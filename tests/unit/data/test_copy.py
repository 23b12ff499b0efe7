"""The pure lines of :mod:`tasks.data.copy`."""

from tasks.data.copy import refused_more
from tasks.data.tables import CopyError


def test_the_tables_refused_or_waiting_after_the_first_are_named():
    """Adversary pass 5, finding 4: "(and 1 more table(s) refused)" named no table; the one waiting
    for the refused table is named now."""
    first = CopyError("table public.textpk: a row the application wrote …")
    waiting = CopyError("table public.grand: not copied in this run: it references public.textpk …")
    assert refused_more([first]) == ""
    assert "public.grand" in refused_more([first, waiting])
    many = [first] + [CopyError(f"table public.t{i}: not copied") for i in range(5)]
    assert "public.t0, public.t1, public.t2 and 2 more" in refused_more(many)
