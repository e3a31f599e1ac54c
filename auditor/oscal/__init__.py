"""OSCAL exports: a run as assessment results, the requirement catalogues as catalogs (NIST OSCAL JSON).

The documents validate against NIST's JSON schemas shipped in reports/schema/oscal/ (see its README)."""
