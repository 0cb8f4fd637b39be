#!/usr/bin/env python3
"""Compares `fixpoint gate --format json` with `checkov -o json` on the same plan, on the checks
both have; prints one JSON object: agreement per mapped pair and every kind of difference.

usage: gate_compare.py FIXPOINT.json CHECKOV.json PLAN.json
"""
import json
import sys
from collections import Counter, defaultdict

# Checkov id -> Fixpoint control. S3.8 needs a public access block with all four flags on, so
# Checkov's "has a block" check (on the bucket) and its four flag checks (on the block, joined onto
# its bucket) are one verdict: the bucket fails S3.8 if any of them fails.
MAPPING = {
    "CKV_AWS_24": "EC2.53", "CKV_AWS_79": "EC2.8", "CKV_AWS_88": "EC2.9",
    "CKV_AWS_17": "RDS.2", "CKV_AWS_16": "RDS.3", "CKV_AWS_133": "RDS.11", "CKV_AWS_293": "RDS.8", "CKV_AWS_226": "RDS.13",
    "CKV_AWS_7": "KMS.4", "CKV_AWS_35": "CloudTrail.2", "CKV_AWS_36": "CloudTrail.4",
    "CKV_AWS_21": "S3.14", "CKV_AWS_18": "S3.9", "CKV_AWS_145": "S3.17",
    "CKV_AWS_53": "S3.8", "CKV_AWS_54": "S3.8", "CKV_AWS_55": "S3.8", "CKV_AWS_56": "S3.8", "CKV2_AWS_6": "S3.8",
}

fixpoint = json.load(open(sys.argv[1]))
ours = {(r["address"], r["control_id"]): r["status"] for r in fixpoint["results"]}

# Checkov reports a split S3 resource's checks on that resource; Fixpoint on the bucket it sets.
plan = json.load(open(sys.argv[3]))
owner = {}
for r in plan.get("configuration", {}).get("root_module", {}).get("resources", []):
    for ref in r.get("expressions", {}).get("bucket", {}).get("references", [])[1:2]:
        owner[r["address"]] = ref

raw = json.load(open(sys.argv[2]))
reports = raw if isinstance(raw, list) else [raw]
theirs = defaultdict(dict)  # (resource address, control) -> {checkov id: passed}
for report in reports:
    results = report.get("results", {})
    for key, passed in (("passed_checks", True), ("failed_checks", False)):
        for check in results.get(key, []):
            control = MAPPING.get(check["check_id"])
            if control:
                theirs[(owner.get(check["resource"], check["resource"]), control)][check["check_id"]] = passed

# Why a kind of difference arises, and whose verdict is right, by (control, fixpoint, checkov).
WHY = {
    ("EC2.8", "not_evaluated", "fail"): "the instance leaves metadata_options to the AMI (known after apply), so http_tokens "
    "depends on the AMI's ImdsSupport (v2.0 AMIs require tokens): the plan does not say. Checkov fails it; Fixpoint does not "
    "fail what the plan does not know, and the live assessment decides after apply.",
    ("S3.8", "fail", "no result"): "Checkov checks the four flags only on an aws_s3_bucket_public_access_block; a bucket with "
    "none is not reported. With no block nothing blocks public access: Fixpoint is right.",
}

pairs = Counter()
differences = defaultdict(list)
why = {}
for key, checks in theirs.items():
    checkov = "pass" if all(checks.values()) else "fail"
    fix = ours.get(key, "absent")
    pairs[key[1]] += 1
    if fix != checkov:
        kind = f"{key[1]} ({'/'.join(sorted(checks))}): fixpoint {fix}, checkov {checkov}"
        differences[kind].append(key[0])
        why[kind] = WHY.get((key[1], fix, checkov), "not explained yet: look at the examples")
# Pairs Fixpoint decides that Checkov never reports (its check needs a resource it did not see).
for (address, control), status in ours.items():
    if control in MAPPING.values() and (address, control) not in theirs and status in ("pass", "fail"):
        kind = f"{control}: fixpoint {status}, checkov no result"
        differences[kind].append(address)
        why[kind] = WHY.get((control, status, "no result"), "not explained yet: look at the examples")

out = {
    "compared_pairs": sum(pairs.values()),
    "agreeing_pairs": sum(pairs.values()) - sum(len(v) for k, v in differences.items() if "no result" not in k),
    "differences": {k: {"count": len(v), "examples": v[:3], "why": why[k]} for k, v in sorted(differences.items())},
}
print(json.dumps(out, indent=1))
