"""Runbooks as data: specs under data/runbooks/*.toml, typed steps, executors, recorded runs.

How to add a runbook (the contract other features build on, e.g. a restore runbook):

1. A TOML file in ``data/runbooks/`` (one runbook per file; :mod:`dashboard.runbooks.spec`)::

       id = "service_restart"            # [a-z0-9_]+, unique, the file's stem
       title = "Service Restart"
       summary = "Check, stop, start and verify a service."
       action = "runbook.service_restart"  # a name in ACTION_PERMISSIONS: the permission
       danger = "high"                     # low | medium | high (high: type the target)
       target = "{service}"                # what is locked (one run per target) and typed

       [[params]]
       name = "service"                    # referenced as {service} in args and target
       type = "choice"                     # str | int | float | bool | choice
       choices = ["orca-core"]             # choice: the allow-list; str: optional pattern
       default = "orca-core"               # int/float: optional min / max
       label = "Service"

       [[steps]]
       id = "health_before"                # unique within the runbook
       kind = "http.check"                 # a registered step kind
       title = "Check health"
       on_fail = "continue"                # stop (default) | continue (evidence only)
       args = { url = "{core_url}/health", expect_status = 200 }

   String values in ``args`` and ``target`` may use ``{param}`` and the context names in
   :data:`dashboard.runbooks.spec.CONTEXT_NAMES`; anything else is refused at load.

2. A step kind, when none of the registered ones fits: a module under
   ``dashboard/runbooks/`` with a function decorated by
   :func:`dashboard.runbooks.steps.step_kind` (name, ``acts`` = changes something,
   required/optional args, a ``describe`` for the dry run), listed in
   :data:`dashboard.runbooks.steps.KIND_MODULES` so the catalogue loads it.

3. The action name in ``dashboard/domain/permissions.py`` ACTION_PERMISSIONS and a runner
   in tests/actions/test_role_matrix.py.
"""
