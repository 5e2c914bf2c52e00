"""The data-platform CrossGuard policy pack (``pulumi preview --policy-pack policies``).

``policies.catalog.load()`` registers every policy (metadata in ``policies._base.REGISTRY``);
``policies.pack.build()`` turns them into ``pulumi_policy`` policies; ``__main__.py`` serves them.
"""
