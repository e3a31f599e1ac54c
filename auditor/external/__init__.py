"""Results of other tools (OpenSCAP, Lynis) brought into an agency's history as findings of source ``external:<tool>``.

``xmlsafe`` reads XML without DTDs or entities and within a size limit; ``openscap`` and ``lynis`` turn a results
file into typed results; ``mapping`` maps each tool's rule or test ids to clauses (data in
``checklists/external/``); ``record`` turns mapped results into the host result the store keeps.
"""
