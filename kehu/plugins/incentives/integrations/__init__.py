"""Where incentives reads another plugin's tables: the pipeline's (its ``depends``) in
``pipeline.py``. Contracts, tickets and the pipeline_contracts bridge give incentives their
numbers through the hooks incentives publishes (``kehu_commission_sources``,
``kehu_commission_participants``, ``kehu_incentive_actuals`` in ``hookspecs.py``)."""
