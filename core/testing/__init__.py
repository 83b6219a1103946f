"""The plugin contract kit (:mod:`.contract`) and small real datasets for tests (:mod:`.datasets`).

::

    from reelpick.testing import check_plugin

    def test_contract(tmp_path):
        check_plugin(MyPlugin, "path/to/ml-latest-small", cache_root=tmp_path)
"""

from .contract import ContractReport, PluginContractError, check_plugin, contract_test
from .datasets import pick_queries, save_dataset, small_dataset, subset_dataset

__all__ = [
    "ContractReport",
    "PluginContractError",
    "check_plugin",
    "contract_test",
    "pick_queries",
    "save_dataset",
    "small_dataset",
    "subset_dataset",
]
