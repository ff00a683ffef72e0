"""The scalar tiers: one request at a time, each decided by generated Python.

========  ===========================  ==============================  ==========================
tier      modules                      chosen when                     falls back to
========  ===========================  ==============================  ==========================
typed     ``fastpath`` (code from      ``decide_prepared`` on a        generic, per node (a
          ``typed``)                   checked request: the schema-    construct ``typed``
                                       directed parser made its        declines), per policy (a
                                       context                         leaf that raised), per
                                                                       request (a context
                                                                       binding that failed)
generic   ``program`` (code from       every other request, and        nothing: every type is
          ``generic``)                 ``decide_generic``              checked at run time
========  ===========================  ==============================  ==========================

``generic`` is the EST -> Python generator both tiers use (and the batch path's closure and
per-row tiers), ``program`` the generic tier's whole-set function, ``typed`` the typed
generator, ``fastpath`` the typed tier.
"""
