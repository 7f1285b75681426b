"""Import shims for stacks deployed before the `interlock_platform` package.

Pulumi pickles each dynamic provider into the stack's state by its module path
(`components.providers.interlock.ServiceClusterProvider`, ...). Those paths must keep importing
until every stack has run `pulumi up` with the new code, which rewrites the state with the new
paths. Nothing else belongs here; new code imports `interlock_platform`.
"""
