import stat

import numpy as np
import pytest

from outputs import OutputExistsError

from watermark import DEFAULT_KEY, Key, KeyFileError
from watermark.pattern import layout


def test_save_and_load(tmp_path):
    key = Key.generate()
    path = tmp_path / "k.key"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Key.load(path) == key
    assert key.secret.hex() not in repr(key)


def test_refuses_to_overwrite(tmp_path):
    path = tmp_path / "k.key"
    path.write_text("precious")
    with pytest.raises(OutputExistsError, match="already exists; give another name \\(this kind of file is never"):
        Key.generate().save(path)
    assert path.read_text() == "precious"


@pytest.mark.parametrize("content, message", [
    (b"not a key", "not an aimark key file"),
    (b"aimark-watermark-key-v1\nzz\n", "damaged"),
    (b"aimark-watermark-key-v1\nabcd\n", "holds 2 bytes"),
])
def test_bad_key_files(tmp_path, content, message):
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(KeyFileError, match=message):
        Key.load(path)


def test_missing_key_file(tmp_path):
    with pytest.raises(KeyFileError, match="does not exist"):
        Key.load(tmp_path / "none.key")


def test_keys_give_independent_layouts():
    a, b = layout(DEFAULT_KEY), layout(Key.generate())
    assert not np.array_equal(a.sync_cells, b.sync_cells)


def test_default_key_is_stable():
    # Marks made with the public default key must stay readable by later versions.
    assert DEFAULT_KEY.key_id == "6f2a8d0889d41834"
