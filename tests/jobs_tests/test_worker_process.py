from automl.jobs.worker import gpu_for_child


def test_pool_children_take_the_declared_gpus_in_turn():
    assert [gpu_for_child(i, "0, 1") for i in range(4)] == ["0", "1", "0", "1"]
    assert gpu_for_child(3, "") is None
