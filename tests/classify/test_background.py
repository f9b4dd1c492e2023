"""Files written while the next epoch trains: in order, complete, and from a snapshot training cannot change."""

from __future__ import annotations

import threading

import pytest
import torch

from classify.background import BackgroundWriter, snapshot


def test_jobs_run_in_order_and_leaving_the_block_waits_for_the_last() -> None:
    done: list[int] = []
    with BackgroundWriter() as writer:
        writer.submit(lambda: done.append(1))
        writer.submit(lambda: (threading.Event().wait(0.2), done.append(2)))
    assert done == [1, 2]


def test_a_failed_write_is_raised_by_the_next_submit() -> None:
    def fail() -> None:
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space"), BackgroundWriter() as writer:
        writer.submit(fail)
        writer.submit(lambda: None)


def test_an_interruption_still_finishes_the_pending_write_and_is_what_is_raised() -> None:
    done = threading.Event()
    with pytest.raises(KeyboardInterrupt), BackgroundWriter() as writer:
        writer.submit(lambda: (threading.Event().wait(0.2), done.set()))
        raise KeyboardInterrupt
    assert done.is_set()


def test_a_snapshot_keeps_the_values_of_the_moment_and_the_state_dict_metadata() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randn(4, 2)).sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "history": [{"epoch": 1}]}
    copied = snapshot(state)
    before = copied["model"]["0.weight"].clone()
    with torch.no_grad():
        model[0].weight.add_(1)
    optimizer.state_dict()["state"][0]["exp_avg"].add_(1)
    assert torch.equal(copied["model"]["0.weight"], before)
    assert not torch.equal(copied["optimizer"]["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert copied["model"]._metadata == state["model"]._metadata
    assert copied["history"] == [{"epoch": 1}] and copied["history"] is not state["history"]
    torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)).load_state_dict(copied["model"])
