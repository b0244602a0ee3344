"""The index over registered fingerprints: answers through hashed keys, in memory and in SQLite alike."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from conftest import make_clip
from manifests.contentstore import ContentStoreError, SQLiteContentStore
from watermark import contentid
from watermark.contentindex import CANDIDATES, ContentIndex, ContentIndexError, MemoryStore
from test_contentid import centre_crop, edit


class CountingStore(MemoryStore):
    """A memory store that counts the works whose fingerprints a search fetched for verification."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: list[int] = []

    def fingerprints(self, numbers):
        self.verified += list(numbers)
        return super().fingerprints(numbers)


def synthetic_fingerprints(count: int, seed: int = 0, segments: int = 8) -> list[contentid.Fingerprint]:
    """Fingerprints of made-up works: slowly changing random directions, as the segments of a video."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, 1, contentid.DIMENSIONS))
    vectors = vectors + 0.5 * np.cumsum(rng.standard_normal((count, segments, contentid.DIMENSIONS)), axis=1)
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    return [contentid.Fingerprint.from_vectors(v, np.ones(segments, bool)) for v in vectors.astype(np.float32)]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A registered work, a cropped excerpt of it, and an unrelated clip."""
    folder = tmp_path_factory.mktemp("index")
    original = make_clip(folder / "work.mp4", width=640, height=360, frames=150, seed=21, crf=18)
    copy = edit(original, folder / "copy.mp4", picture=centre_crop, window=(2.0, 5.0))
    other = make_clip(folder / "other.mp4", width=640, height=360, frames=100, seed=22, crf=18)
    return original, copy, other


def test_a_query_among_10000_works_is_answered_through_the_index(work):
    original, copy, other = work
    store = CountingStore()
    index = ContentIndex(store)
    for number, fingerprint in enumerate(synthetic_fingerprints(10_000)):
        index.add(f"synthetic-{number}", fingerprint)
    index.add("the-work", contentid.sample_file(original).fingerprint())
    assert len(index) == 10_001

    found = index.search(contentid.sample_file(copy).query())
    assert [m.work for m in found] == ["the-work"] and found[0].scale == 0.78
    assert abs(found[0].work_span[0] - 2.0) <= 0.5 and abs(found[0].work_span[1] - 5.0) <= 0.5
    # Verified candidates are a few of the best-voted works, never the whole registry.
    assert 1 <= len(store.verified) <= CANDIDATES

    store.verified.clear()
    assert index.search(contentid.sample_file(other).query()) == []
    assert len(store.verified) <= CANDIDATES


def test_the_false_match_probability_grows_with_what_was_searched(work):
    original, copy, _ = work
    small, large = ContentIndex(), ContentIndex()
    fingerprint = contentid.sample_file(original).fingerprint()
    for index in (small, large):
        index.add("the-work", fingerprint)
    for number, other in enumerate(synthetic_fingerprints(2_000, seed=1)):
        large.add(f"synthetic-{number}", other)
    query = contentid.sample_file(copy).query()
    alone, among = small.search(query)[0], large.search(query)[0]
    assert alone.similarity == among.similarity
    # 2,001 works of 8 segments (16,006 segments) against 6: the bound is that many times larger.
    assert among.false_match_probability == pytest.approx(alone.false_match_probability * 16_006 / 6, rel=1e-6)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_stores_register_find_refuse_duplicates_and_forget(kind, work, tmp_path):
    original, copy, other = work
    store = MemoryStore() if kind == "memory" else SQLiteContentStore(tmp_path / "registry.sqlite")
    error = ContentIndexError if kind == "memory" else ContentStoreError
    with ContentIndex(store) as index:
        fingerprint = contentid.sample_file(original).fingerprint()
        index.add("notice-1", fingerprint)
        index.add("notice-2", contentid.sample_file(other).fingerprint())
        with pytest.raises(error, match="'notice-1' is already registered"):
            index.add("notice-1", fingerprint)
        assert isinstance(error("x"), ValueError)
        assert np.array_equal(index.get("notice-1").vectors, fingerprint.vectors) and index.get("nothing") is None
        query = contentid.sample_file(copy).query()
        assert [m.work for m in index.search(query)] == ["notice-1"]
        assert index.remove("notice-1") and not index.remove("notice-1")
        assert index.search(query) == [] and len(index) == 1


def test_sqlite_store_keeps_works_across_connections_and_in_the_repository_file(work, tmp_path):
    original, copy, _ = work
    path = tmp_path / "repository.sqlite"
    with ContentIndex(SQLiteContentStore(path)) as index:
        index.add("notice-1", contentid.sample_file(original).fingerprint())
    with ContentIndex(SQLiteContentStore(path)) as index:
        assert len(index) == 1
        assert [m.work for m in index.search(contentid.sample_file(copy).query())] == ["notice-1"]


def test_sqlite_store_refuses_a_folder_with_one_line(tmp_path):
    with pytest.raises(ContentStoreError, match="is a folder"):
        SQLiteContentStore(tmp_path)


def test_the_provenance_layer_stores_fingerprints_without_the_signal_layer():
    source = Path(__file__).resolve().parents[1] / "manifests" / "contentstore.py"
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(source.read_text()))
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert "watermark" not in imported and "aimark" not in imported
