"""Where a new sandbox's clusters live (``sandbox.paths.choose_clusters_root``): no server is started."""

from __future__ import annotations

import os
import stat

import pytest

from sandbox import paths


@pytest.fixture
def new_sandbox(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "SANDBOX", tmp_path / "sandbox")
    monkeypatch.setattr(paths, "_clusters_root", {})
    monkeypatch.delenv("SANDBOX_CLUSTERS_DIR", raising=False)
    (tmp_path / "sandbox").mkdir()
    return tmp_path


def test_sandbox_clusters_dir_holds_a_new_sandboxs_clusters_in_a_folder_of_its_own(new_sandbox, monkeypatch):
    monkeypatch.setenv("SANDBOX_CLUSTERS_DIR", str(new_sandbox / "shm"))
    chosen = paths.choose_clusters_root(None, None)
    assert chosen.parent == new_sandbox / "shm" and chosen.name.startswith("pgconverge-clusters-")
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o755  # the server user enters it
    assert paths.cluster_data_dir("target") == chosen / "target" / "data"


def test_clusters_already_in_the_sandbox_or_saved_elsewhere_stay_where_they_are(new_sandbox, monkeypatch):
    monkeypatch.setenv("SANDBOX_CLUSTERS_DIR", str(new_sandbox / "shm"))
    (new_sandbox / "sandbox" / "source" / "data").mkdir(parents=True)
    assert paths.choose_clusters_root(None, None) == new_sandbox / "sandbox"
    saved = new_sandbox / "elsewhere"
    (saved / "source").mkdir(parents=True)
    assert paths.choose_clusters_root(None, str(saved)) == saved
    assert not (new_sandbox / "shm").exists()


def test_without_the_setting_a_reachable_sandbox_keeps_its_clusters(new_sandbox):
    assert paths.choose_clusters_root(None, None) == new_sandbox / "sandbox"


def test_a_planted_link_in_its_place_is_refused(new_sandbox, monkeypatch):
    monkeypatch.setenv("SANDBOX_CLUSTERS_DIR", str(new_sandbox / "shm"))
    place = paths._fallback_root(new_sandbox / "shm")
    place.parent.mkdir()
    os.symlink(new_sandbox / "sandbox", place)
    with pytest.raises(paths.SandboxError, match="belongs to someone else"):
        paths.choose_clusters_root(None, None)
