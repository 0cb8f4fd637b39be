#!/usr/bin/env python3
"""The floor for scripts/bench-sync: plain boto3 making the same read calls inventory's discovery
makes (the same APIs, pages and per-resource reads), sequentially, parsing nothing beyond what
boto3 parses anyway. Prints the number of calls.

usage: boto3_floor.py ENDPOINT REGION"""
import sys

import boto3
from botocore.exceptions import ClientError

endpoint, region = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIAFIXPOINTBENCH001", aws_secret_access_key="bench")
c = {n: boto3.client(n, **kw) for n in ("s3", "ec2", "iam", "rds", "cloudtrail", "guardduty", "kms", "sts")}
calls = 0


def call(service, op, **args):
    global calls
    calls += 1
    try:
        return getattr(c[service], op)(**args)
    except ClientError:
        return None


def pages(service, op, key, token_in, token_out, **args):
    out = []
    while True:
        r = call(service, op, **args) or {}
        out += r.get(key, [])
        t = r.get(token_out)
        if not t or (token_out == "Marker" and not r.get("IsTruncated")):
            return out
        args[token_in] = t


call("sts", "get_caller_identity")
# s3_bucket, s3_account_public_access_block (raw s3control path: one call)
for b in (call("s3", "list_buckets") or {}).get("Buckets", []):
    name = b["Name"]
    for op in ("get_bucket_location", "get_bucket_encryption", "get_public_access_block", "get_bucket_versioning",
               "get_bucket_logging", "get_bucket_tagging", "get_bucket_policy"):
        call("s3", op, Bucket=name)
calls += 1
# security_group, ec2_instance, ebs_volume, ebs_encryption_default, vpc
pages("ec2", "describe_security_groups", "SecurityGroups", "NextToken", "NextToken", MaxResults=1000)
pages("ec2", "describe_security_group_rules", "SecurityGroupRules", "NextToken", "NextToken", MaxResults=1000)
pages("ec2", "describe_network_interfaces", "NetworkInterfaces", "NextToken", "NextToken", MaxResults=1000)
pages("ec2", "describe_instances", "Reservations", "NextToken", "NextToken", MaxResults=1000)
pages("ec2", "describe_volumes", "Volumes", "NextToken", "NextToken", MaxResults=500)
call("ec2", "get_ebs_encryption_by_default")
pages("ec2", "describe_vpcs", "Vpcs", "NextToken", "NextToken", MaxResults=1000)
pages("ec2", "describe_flow_logs", "FlowLogs", "NextToken", "NextToken", MaxResults=1000)
# iam_user, iam_password_policy
for u in pages("iam", "list_users", "Users", "Marker", "Marker", MaxItems=1000):
    n = u["UserName"]
    for k in pages("iam", "list_access_keys", "AccessKeyMetadata", "Marker", "Marker", UserName=n, MaxItems=1000):
        call("iam", "get_access_key_last_used", AccessKeyId=k["AccessKeyId"])
    for op, key in (("list_mfa_devices", "MFADevices"), ("list_attached_user_policies", "AttachedPolicies"),
                    ("list_user_policies", "PolicyNames"), ("list_user_tags", "Tags")):
        pages("iam", op, key, "Marker", "Marker", UserName=n, MaxItems=1000)
    call("iam", "get_login_profile", UserName=n)
call("iam", "get_account_password_policy")
# rds_instance, cloudtrail_trail, guardduty_detector, kms_key
pages("rds", "describe_db_instances", "DBInstances", "Marker", "Marker", MaxRecords=100)
for t in (call("cloudtrail", "describe_trails", includeShadowTrails=False) or {}).get("trailList", []):
    call("cloudtrail", "get_trail_status", Name=t["Name"])
for d in (call("guardduty", "list_detectors") or {}).get("DetectorIds", []):
    call("guardduty", "get_detector", DetectorId=d)
for k in pages("kms", "list_keys", "Keys", "Marker", "NextMarker", Limit=1000):
    meta = (call("kms", "describe_key", KeyId=k["KeyId"]) or {}).get("KeyMetadata", {})
    if meta.get("KeyManager") == "CUSTOMER" and meta.get("KeyState") != "PendingDeletion":
        call("kms", "get_key_rotation_status", KeyId=k["KeyId"])
print(calls)
