#!/usr/bin/env python3
"""Checks compliance exports the way their consumers read them; prints a JSON summary.

usage: check_exports.py DIR SCHEMA   (DIR holds report.sarif, report.junit.xml, report.asff.json,
                                       report.csv, report.html; SCHEMA is the SARIF 2.1.0 schema)
"""
import csv
import html.parser
import json
import re
import sys

import jsonschema
from junitparser import Failure, JUnitXml, Skipped

d, schema_path = sys.argv[1], sys.argv[2]
out = {}

# SARIF: valid against the published 2.1.0 schema.
sarif = json.load(open(f"{d}/report.sarif"))
schema = json.load(open(schema_path))
errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(sarif), key=lambda e: list(e.path))
out["sarif_errors"] = [f"{list(e.path)}: {e.message}" for e in errors[:5]]
run = sarif["runs"][0]
rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
out["sarif_results"] = len(run["results"])
out["sarif_rule_ids_ok"] = all(r["ruleId"] in rule_ids and rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])
out["sarif_suppressed"] = sum(1 for r in run["results"] if r.get("suppressions"))

# JUnit: as junitparser (a JUnit consumer) reads it.
xml = JUnitXml.fromfile(f"{d}/report.junit.xml")
cases = [c for suite in xml for c in suite]
out["junit_cases"] = len(cases)
out["junit_failures"] = sum(1 for c in cases if any(isinstance(r, Failure) for r in c.result))
out["junit_skipped"] = sum(1 for c in cases if any(isinstance(r, Skipped) for r in c.result))
out["junit_suite_counts_ok"] = all(s.tests == len(list(s)) and s.failures == sum(1 for c in s if any(isinstance(r, Failure) for r in c.result)) for s in xml)

# ASFF: every required attribute, in its format.
REQUIRED = ["AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn", "Resources", "SchemaVersion", "Severity", "Title", "Types", "UpdatedAt"]
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
asff = json.load(open(f"{d}/report.asff.json"))
problems = []
for f in asff:
    missing = [k for k in REQUIRED if k not in f or f[k] in ("", [], None)]
    if missing:
        problems.append(f"{f.get('Id')}: missing {missing}")
    if f.get("SchemaVersion") != "2018-10-08":
        problems.append(f"{f.get('Id')}: SchemaVersion")
    if not re.match(r"^\d{12}$", f.get("AwsAccountId", "")):
        problems.append(f"{f.get('Id')}: AwsAccountId {f.get('AwsAccountId')!r}")
    if not re.match(r"^arn:aws:securityhub:[a-z0-9-]+:\d{12}:product/\d{12}/default$", f.get("ProductArn", "")):
        problems.append(f"{f.get('Id')}: ProductArn {f.get('ProductArn')!r}")
    for k in ("CreatedAt", "UpdatedAt"):
        if not ISO.match(f.get(k, "")):
            problems.append(f"{f.get('Id')}: {k} {f.get(k)!r}")
    if f.get("Severity", {}).get("Label") not in ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"):
        problems.append(f"{f.get('Id')}: Severity")
    if not all(r.get("Type") and r.get("Id") for r in f.get("Resources", [])):
        problems.append(f"{f.get('Id')}: Resources")
    if f.get("Compliance", {}).get("Status") not in ("PASSED", "FAILED", "WARNING", "NOT_AVAILABLE"):
        problems.append(f"{f.get('Id')}: Compliance.Status")
    if len(f.get("Title", "")) > 256 or len(f.get("Description", "")) > 1024:
        problems.append(f"{f.get('Id')}: Title/Description too long")
out["asff_findings"] = len(asff)
out["asff_failed"] = sum(1 for f in asff if f["Compliance"]["Status"] == "FAILED")
out["asff_problems"] = problems[:5]
out["asff_ids_unique"] = len({f["Id"] for f in asff}) == len(asff)

# CSV: one row per result, the header first.
rows = list(csv.DictReader(open(f"{d}/report.csv", newline="")))
out["csv_rows"] = len(rows)
out["csv_fail"] = sum(1 for r in rows if r["status"] == "fail")


class Parser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.bars, self.failing_rows, self.stack = 0, 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("class") == "fill" and "width:" in a.get("style", ""):
            self.bars += 1
        if tag == "table":
            self.stack.append(a.get("class"))
        if tag == "tr" and self.stack and self.stack[-1] == "failing":
            self.failing_rows += 1

    def handle_endtag(self, tag):
        if tag == "table" and self.stack:
            self.stack.pop()


p = Parser()
page = open(f"{d}/report.html").read()
p.feed(page)
out["html_bars"] = p.bars
out["html_failing_rows"] = p.failing_rows - page.count('<table class="failing">')  # less each table's header row
out["html_self_contained"] = not re.search(r'<(script|link|img)\b[^>]*(src|href)=', page)
print(json.dumps(out))
