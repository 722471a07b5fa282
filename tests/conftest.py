import pytest


@pytest.fixture(scope="module")
def one_thread():
    """Small convolutions gain nothing from threads, and OpenMP threads on a busy 2-core box stall badly."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
