#!/usr/bin/env python3
"""Writes a synthetic Terraform plan (`terraform show -json` shape) of N resources for bench-gate.

usage: gate_plan.py N OUT.json

Mixed types in fixed proportions, each misconfigured in a known share (every third of its kind;
one instance in five leaves its metadata options to the AMI, known only after apply),
with the split S3 resources (public access block, encryption, versioning, logging) beside the
buckets that have them, and configuration references so unknown bucket ids still join.
"""
import json
import sys

n, out_path = int(sys.argv[1]), sys.argv[2]
changes, refs = [], []


def add(type_, name, after, unknown=None, refs_to=None):
    address = f"{type_}.{name}"
    changes.append({"address": address, "mode": "managed", "type": type_, "name": name,
                    "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown or {"id": True}}})
    if refs_to:
        arg, target = refs_to
        refs.append({"address": address, "type": type_, "name": name,
                     "expressions": {arg: {"references": [f"{target}.id", target]}}})


i = 0
count = 0
while count < n:
    bad = (i // 6) % 3 == 0  # every third resource of each kind
    kind = i % 6
    if kind == 0:  # a bucket and, when good, its four split settings
        b = f"b{i}"
        add("aws_s3_bucket", b, {"bucket": f"bench-{i}", "tags": {"team": "bench"}}, {"id": True, "arn": True, "policy": True})
        count += 1
        if not bad and count + 4 <= n:
            add("aws_s3_bucket_public_access_block", b, {"block_public_acls": True, "ignore_public_acls": True, "block_public_policy": True,
                                                         "restrict_public_buckets": True}, {"bucket": True, "id": True}, ("bucket", f"aws_s3_bucket.{b}"))
            add("aws_s3_bucket_server_side_encryption_configuration", b, {"rule": [{"apply_server_side_encryption_by_default": [
                {"sse_algorithm": "aws:kms", "kms_master_key_id": ""}], "bucket_key_enabled": True}]}, {"bucket": True, "id": True},
                ("bucket", f"aws_s3_bucket.{b}"))
            add("aws_s3_bucket_versioning", b, {"versioning_configuration": [{"status": "Enabled", "mfa_delete": "Disabled"}]},
                {"bucket": True, "id": True}, ("bucket", f"aws_s3_bucket.{b}"))
            add("aws_s3_bucket_logging", b, {"target_bucket": "bench-logs", "target_prefix": f"{b}/"}, {"bucket": True, "id": True},
                ("bucket", f"aws_s3_bucket.{b}"))
            count += 4
    elif kind == 1:
        cidr = "0.0.0.0/0" if bad else "10.0.0.0/8"
        add("aws_security_group", f"sg{i}", {"name": f"bench-sg-{i}", "description": "bench", "ingress": [
            {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": [cidr], "ipv6_cidr_blocks": [], "prefix_list_ids": [],
             "security_groups": [], "self": False, "description": "ssh"}], "egress": [], "tags": {"team": "bench"}},
            {"id": True, "arn": True, "vpc_id": True, "owner_id": True})
        count += 1
    elif kind == 2:
        after = {"ami": "ami-12345678", "instance_type": "t3.micro", "associate_public_ip_address": bad,
                 "metadata_options": [{"http_tokens": "optional" if bad else "required", "http_endpoint": "enabled",
                                       "http_put_response_hop_limit": 1}], "tags": {"team": "bench"}}
        unknown = {"id": True, "public_ip": True, "vpc_security_group_ids": True, "arn": True}
        if (i // 6) % 5 == 1:  # metadata options left to the AMI: known only after apply
            del after["metadata_options"]
            unknown["metadata_options"] = True
        add("aws_instance", f"vm{i}", after, unknown)
        count += 1
    elif kind == 3:
        add("aws_db_instance", f"db{i}", {"identifier": f"bench-db-{i}", "engine": "postgres", "instance_class": "db.t3.micro",
                                          "publicly_accessible": bad, "storage_encrypted": not bad, "backup_retention_period": 0 if bad else 7,
                                          "deletion_protection": not bad, "auto_minor_version_upgrade": not bad, "tags": {"team": "bench"}},
            {"id": True, "arn": True, "kms_key_id": True})
        count += 1
    elif kind == 4:
        add("aws_kms_key", f"key{i}", {"description": "bench", "enable_key_rotation": not bad, "customer_master_key_spec": "SYMMETRIC_DEFAULT",
                                       "is_enabled": True}, {"id": True, "key_id": True, "arn": True})
        count += 1
    else:
        add("aws_cloudtrail", f"trail{i}", {"name": f"bench-trail-{i}", "s3_bucket_name": "bench-logs", "is_multi_region_trail": True,
                                            "enable_log_file_validation": not bad, "enable_logging": True,
                                            "kms_key_id": None if bad else "arn:aws:kms:us-east-1:123456789012:key/bench"},
            {"id": True, "arn": True})
        count += 1
    i += 1

# Checkov reads resources from planned_values, Fixpoint from resource_changes; a real plan has both.
planned = [{"address": c["address"], "mode": "managed", "type": c["type"], "name": c["name"],
            "provider_name": "registry.terraform.io/hashicorp/aws", "schema_version": 0, "values": c["change"]["after"]} for c in changes]
plan = {"format_version": "1.2", "terraform_version": "1.9.5", "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes, "configuration": {"root_module": {"resources": refs}}}
with open(out_path, "w") as f:
    json.dump(plan, f, indent=1)
print(len(changes))
