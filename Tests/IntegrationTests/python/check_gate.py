#!/usr/bin/env python3
"""Reads `fixpoint gate` reports the way their consumers do; prints a JSON summary.

usage: check_gate.py SARIF JUNIT SCHEMA   (SCHEMA is the vendored SARIF 2.1.0 schema)
"""
import json
import sys

import jsonschema
from junitparser import Failure, JUnitXml, Skipped

sarif_path, junit_path, schema_path = sys.argv[1:4]
out = {}

# SARIF: valid against the published 2.1.0 schema, and what GitHub code scanning needs of it.
sarif = json.load(open(sarif_path))
errors = sorted(jsonschema.Draft4Validator(json.load(open(schema_path))).iter_errors(sarif), key=lambda e: list(e.path))
out["sarif_errors"] = [f"{list(e.path)}: {e.message}" for e in errors[:5]]
run = sarif["runs"][0]
rules = run["tool"]["driver"]["rules"]
rule_ids = [r["id"] for r in rules]
out["sarif_rule_ids"] = sorted(rule_ids)
out["sarif_results"] = len(run["results"])
out["sarif_rule_ids_ok"] = all(r["ruleId"] in rule_ids and rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])
out["sarif_rules_complete"] = all(r["shortDescription"]["text"] and r["fullDescription"]["text"] and r["help"]["text"] and r.get("helpUri")
                                  and 0.1 <= float(r["properties"]["security-severity"]) <= 10 for r in rules)
out["sarif_locations"] = sorted({(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in run["results"]})
out["sarif_lines_ok"] = all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in run["results"])
out["sarif_fingerprints"] = len({r["partialFingerprints"]["primaryLocationLineHash"] for r in run["results"]})

# JUnit: as junitparser (a JUnit consumer) reads it.
xml = JUnitXml.fromfile(junit_path)
cases = [c for suite in xml for c in suite]
out["junit_cases"] = len(cases)
out["junit_failures"] = sum(1 for c in cases if any(isinstance(r, Failure) for r in c.result))
out["junit_skipped"] = sum(1 for c in cases if any(isinstance(r, Skipped) for r in c.result))
out["junit_suite_counts_ok"] = all(s.tests == len(list(s)) and s.failures == sum(1 for c in s if any(isinstance(r, Failure) for r in c.result)) for s in xml)
print(json.dumps(out))
