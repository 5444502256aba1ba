"""The one-time conversion's library chatter goes to the log at DEBUG; failures still propagate."""

from __future__ import annotations

import logging
import warnings

import pytest

from index.encoders.library_noise import library_noise_to_debug


def test_library_warnings_records_and_bars_become_debug_lines(caplog, capfd):
    from transformers.utils import logging as transformers_logging
    from transformers.utils.logging import tqdm

    caplog.set_level(logging.DEBUG)
    library = logging.getLogger("transformers")
    before = (library.handlers[:], library.propagate)
    bars = transformers_logging.is_progress_bar_enabled()  # the torch encoder turns them off
    with library_noise_to_debug():
        warnings.warn("Converting a tensor to a Python boolean", stacklevel=1)
        logging.getLogger("transformers.masking_utils").warning("a library warning")
        logging.warning("Please consider to run pre-processing before quantization")
        for _ in tqdm(range(3), desc="Loading weights"):
            pass
    assert transformers_logging.is_progress_bar_enabled() == bars  # as it was before
    out, err = capfd.readouterr()
    for said in ("Loading weights", "Python boolean", "a library warning", "pre-processing"):
        assert said not in err + out, said
    names = {r.name for r in caplog.records}
    assert names == {"index.encoders.library_noise"}  # nothing reached the handlers as it was
    assert {r.levelno for r in caplog.records} == {logging.DEBUG}
    text = caplog.text
    for said in ("Python boolean", "a library warning", "pre-processing", "UserWarning"):
        assert said in text, said
    # Afterwards the libraries log as before.
    assert (library.handlers, library.propagate) == before
    assert not logging.getLogger().filters


def test_a_library_error_keeps_its_level_and_a_failure_propagates(caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RuntimeError, match="export failed"):
        with library_noise_to_debug():
            logging.getLogger("torch.onnx").error("graph is broken")
            raise RuntimeError("export failed")
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and "graph is broken" in record.getMessage()
