"""
The schema as the catalog describes it: the snapshot query, the diff against the expected schema,
the validation report and the picture of tables and foreign keys.
"""
