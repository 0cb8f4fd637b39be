#!/usr/bin/env python3
"""Reads, with boto3 (never with Fixpoint's own readers), every value the setter test changes.

usage: probe.py ENDPOINT REGION  -> one JSON object on stdout."""
import json
import sys
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

endpoint, region = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIAFIXPOINTPROBE001", aws_secret_access_key="probe-secret")
s3, ec2, iam, rds, ct, gd, kms, sm, lam = (boto3.client(n, **kw) for n in (
    "s3", "ec2", "iam", "rds", "cloudtrail", "guardduty", "kms", "secretsmanager", "lambda"))


def absent(call, *codes):
    try:
        return call()
    except ClientError as e:
        if e.response["Error"]["Code"] in codes:
            return None
        raise


def account_pab():
    # boto3's s3control client puts the account id in the host name, which moto cannot route; sign it by hand.
    req = AWSRequest(method="GET", url=f"{endpoint}/v20180820/configuration/publicAccessBlock", headers={"x-amz-account-id": "123456789012"})
    SigV4Auth(Credentials("AKIAFIXPOINTPROBE001", "probe-secret"), "s3", region).add_auth(req)
    try:
        with urllib.request.urlopen(urllib.request.Request(req.url, headers=dict(req.headers.items()))) as r:
            body = r.read().decode()
    except urllib.error.HTTPError as e:
        return None if e.code == 404 else f"HTTP {e.code}"
    return sorted(k for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets") if f"<{k}>true</{k}>" in body)


def sg(name):
    g = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"][0]
    rules = lambda perms: sorted(f'{p["IpProtocol"]} {p.get("FromPort")}-{p.get("ToPort")} {r["CidrIp"]}' for p in perms for r in p.get("IpRanges", []))
    return {"ingress": rules(g["IpPermissions"]), "egress": rules(g["IpPermissionsEgress"]), "tags": {t["Key"]: t["Value"] for t in g.get("Tags", [])}}


def instance(name):
    i = [i for r in ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [name]}])["Reservations"] for i in r["Instances"]][0]
    return {"tokens": i["MetadataOptions"]["HttpTokens"], "groups": sorted(g["GroupName"] for g in i["SecurityGroups"]),
            "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])}}


bad = "fp-bad-bucket"
enc = absent(lambda: s3.get_bucket_encryption(Bucket=bad), "ServerSideEncryptionConfigurationNotFoundError")
pab = absent(lambda: s3.get_public_access_block(Bucket=bad), "NoSuchPublicAccessBlockConfiguration")
policy = absent(lambda: s3.get_bucket_policy(Bucket=bad), "NoSuchBucketPolicy")
tags = absent(lambda: s3.get_bucket_tagging(Bucket=bad), "NoSuchTagSet")
logging = s3.get_bucket_logging(Bucket=bad).get("LoggingEnabled")
vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.20.0.0/16"]
volumes = ec2.describe_volumes(Filters=[{"Name": "tag:Name", "Values": ["fp-plain-volume"]}])["Volumes"]
alice_keys = iam.list_access_keys(UserName="fp-alice")["AccessKeyMetadata"]
rotated = absent(lambda: sm.get_secret_value(SecretId="fixpoint/rotated/fp-alice"), "ResourceNotFoundException")
rotated_versions = len(sm.list_secret_version_ids(SecretId="fixpoint/rotated/fp-alice")["Versions"]) if rotated else 0
policy_len = absent(lambda: iam.get_account_password_policy(), "NoSuchEntity")
db = rds.describe_db_instances(DBInstanceIdentifier="fp-db-bad")["DBInstances"][0]
trail = [t for t in ct.describe_trails()["trailList"] if t["Name"] == "fp-bad-trail"][0]
detectors = gd.list_detectors()["DetectorIds"]
subnet = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": ["fp-public-subnet"]}])["Subnets"][0]
acl = ec2.describe_network_acls(Filters=[{"Name": "tag:Name", "Values": ["fp-admin-acl"]}])["NetworkAcls"][0]
snapshot = ec2.describe_snapshots(Filters=[{"Name": "tag:Name", "Values": ["fp-public-snapshot"]}])["Snapshots"][0]["SnapshotId"]
function_policy = absent(lambda: lam.get_policy(FunctionName="fp-public-function"), "ResourceNotFoundException")
function_arn = lam.get_function(FunctionName="fp-public-function")["Configuration"]["FunctionArn"]
plain_key = [k["KeyId"] for k in kms.list_keys()["Keys"] if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"].get("Description") == "fp not rotated"][0]

print(json.dumps({
    "bucket.encryption": enc["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if enc else None,
    "bucket.public_access_block": sorted(k for k, v in pab["PublicAccessBlockConfiguration"].items() if v) if pab else None,
    "bucket.policy": json.loads(policy["Policy"])["Statement"][0]["Effect"] if policy else None,
    "bucket.versioning": s3.get_bucket_versioning(Bucket=bad).get("Status", "Disabled"),
    "bucket.logging": [logging["TargetBucket"], logging["TargetPrefix"]] if logging else None,
    "bucket.tags": {t["Key"]: t["Value"] for t in tags["TagSet"]} if tags else {},
    "account.public_access_block": account_pab(),
    "sg": sg("fp-open-ssh"),
    "instance": instance("fp-imdsv1"),
    "volume.tags": {t["Key"]: t["Value"] for t in volumes[0].get("Tags", []) if t["Key"] != "Name"},
    "ebs_default": ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"],
    "vpc.flow_logs": len(ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpcs[0]["VpcId"]]}])["FlowLogs"]),
    "vpc.tags": {t["Key"]: t["Value"] for t in vpcs[0].get("Tags", [])},
    "alice.key": alice_keys[0]["Status"],
    "alice.keys": {k["AccessKeyId"]: k["Status"] for k in alice_keys},
    "alice.secret": json.loads(rotated["SecretString"]) if rotated else None,
    "alice.secret_versions": rotated_versions,
    "password.minimum_length": policy_len["PasswordPolicy"]["MinimumPasswordLength"] if policy_len else None,
    "db": [db["BackupRetentionPeriod"], db["PubliclyAccessible"], db["DeletionProtection"], db["AutoMinorVersionUpgrade"]],
    "trail": [trail["IsMultiRegionTrail"], trail["LogFileValidationEnabled"], ct.get_trail_status(Name="fp-bad-trail")["IsLogging"],
              trail.get("KmsKeyId") or None],  # AWS removes a trail's key with an empty string
    "guardduty.enabled": any(gd.get_detector(DetectorId=d)["Status"] == "ENABLED" for d in detectors),
    "kms.rotation": kms.get_key_rotation_status(KeyId=plain_key)["KeyRotationEnabled"],
    "plain_key_arn": kms.describe_key(KeyId=plain_key)["KeyMetadata"]["Arn"],
    "subnet.public": subnet["MapPublicIpOnLaunch"],
    "acl.ingress": sorted(f'{e["RuleNumber"]} {e["Protocol"]} {e["RuleAction"]} {e.get("CidrBlock")} {e.get("PortRange", {}).get("From")}'
                          for e in acl["Entries"] if not e["Egress"] and e["RuleNumber"] != 32767),
    "snapshot.permissions": sorted(f'group:{p["Group"]}' if "Group" in p else f'user:{p["UserId"]}'
                                   for p in ec2.describe_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission")["CreateVolumePermissions"]),
    "function.statements": sorted(s["Sid"] for s in json.loads(function_policy["Policy"])["Statement"]) if function_policy else [],
    "function.tags": lam.list_tags(Resource=function_arn)["Tags"],
    "function_arn": function_arn,
    "private_sg": ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["fp-private-https"]}])["SecurityGroups"][0]["GroupId"],
}))
