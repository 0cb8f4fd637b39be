#!/usr/bin/env python3
"""Reads an estate seeded by seed_remediation.py back from moto after scripts/bench-loop's run and
says what is fixed: default encryption and all four public-access-block settings on every
fix-bucket-*, no SSH or RDP from 0.0.0.0/0 on any fix-sg-* while its HTTPS rule stays, IMDSv2
required on every bench=imds instance, and every fix-db-* private with backups kept. Prints one
JSON object; exits 1 when anything is left unfixed or the HTTPS rule is gone.

usage: loop_check.py ENDPOINT N"""
import json
import sys

from bench_aws import clients, every

endpoint, n = sys.argv[1], int(sys.argv[2])
s3, ec2, rds = clients(endpoint, "s3", "ec2", "rds")
fixed = {"S3.17": 0, "S3.8": 0, "EC2.53": 0, "EC2.8": 0, "RDS.2": 0, "RDS.11": 0}
https_kept = 0


for b in s3.list_buckets()["Buckets"]:
    name = b["Name"]
    if not name.startswith("fix-bucket-"):
        continue
    try:
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        if any(r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("aws:kms", "aws:kms:dsse") for r in rules):
            fixed["S3.17"] += 1
    except s3.exceptions.ClientError:
        pass
    try:
        if all(s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values()):
            fixed["S3.8"] += 1
    except s3.exceptions.ClientError:
        pass
for g in every(ec2, "describe_security_groups", "SecurityGroups", Filters=[{"Name": "group-name", "Values": ["fix-sg-*"]}]):
    world = [p for p in g["IpPermissions"] if any(r.get("CidrIp") == "0.0.0.0/0" for r in p.get("IpRanges", []))]
    if not any(p.get("FromPort") in (22, 3389) for p in world):
        fixed["EC2.53"] += 1
    if any(p.get("FromPort") == 443 for p in world):
        https_kept += 1
for r in every(ec2, "describe_instances", "Reservations", Filters=[{"Name": "tag:bench", "Values": ["imds"]}]):
    for i in r["Instances"]:
        if i.get("MetadataOptions", {}).get("HttpTokens") == "required":
            fixed["EC2.8"] += 1
for d in every(rds, "describe_db_instances", "DBInstances"):
    if d["DBInstanceIdentifier"].startswith("fix-db-"):
        fixed["RDS.2"] += not d["PubliclyAccessible"]
        fixed["RDS.11"] += d["BackupRetentionPeriod"] > 0
result = {"fixed": fixed, "https_rules_kept": https_kept, "expected_each": n}
print(json.dumps(result))
sys.exit(0 if all(v == n for v in fixed.values()) and https_kept == n else 1)
