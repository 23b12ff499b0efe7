"""
The migration engine: reading and splitting the files, planning against the target's history, the
proof on a shadow database and the expected schema it yields, and applying the files once each.
Depends on ``schema`` (the shadow's catalog is the expected schema) and ``data`` (seed files are proven on the shadow).
"""
