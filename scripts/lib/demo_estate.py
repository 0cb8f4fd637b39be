#!/usr/bin/env python3
"""The emulator side of `fixpoint demo`: a small misconfigured AWS estate in moto, a change made
behind Fixpoint's back, and what the emulator holds afterwards, all with boto3.

  demo_estate.py ports N                 N free loopback ports in 20000-31999, one per line
  demo_estate.py ping ENDPOINT           exits 0 once the emulator answers
  demo_estate.py seed ENDPOINT           seed the estate; prints what was made (JSON)
  demo_estate.py open-port ENDPOINT REGION GROUP_ID PORT
                                         open PORT to the world on a security group
  demo_estate.py read ENDPOINT           what the emulator holds now, by name (JSON)

The estate, in us-east-1 and eu-west-1: a public bucket and an unencrypted one, a bucket tagged
env=prod and one tagged auto_remediate=false (both unencrypted), a security group with SSH and RDP
open to the world beside a legitimate HTTPS rule, an instance allowing IMDSv1, a public RDS
instance without backups, a KMS key without rotation, and a compliant twin of each."""
import json
import random
import socket
import sys

import boto3

KEYS = dict(aws_access_key_id="AKIAFIXPOINTDEMO0001", aws_secret_access_key="demo-secret")
REGIONS = ("us-east-1", "eu-west-1")
BLOCK_ALL = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}


def client(endpoint, service, region="us-east-1"):
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **KEYS)


def ports(n):
    found = []
    while len(found) < n:
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in found:
            found.append(port)
    print("\n".join(map(str, found)))


def seed(endpoint):
    made = {}
    for region in REGIONS:
        short = "use1" if region == "us-east-1" else "euw1"
        s3, ec2, rds, kms = (client(endpoint, n, region) for n in ("s3", "ec2", "rds", "kms"))
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        good_key = kms.create_key(Description=f"demo {region} rotated")["KeyMetadata"]
        kms.enable_key_rotation(KeyId=good_key["KeyId"])
        # The key the dispatcher encrypts buckets with (moto has no AWS-managed aws/s3 key).
        kms.create_alias(AliasName="alias/demo-s3", TargetKeyId=good_key["KeyId"])
        bad_key = kms.create_key(Description=f"demo {region} not rotated")["KeyMetadata"]

        def bucket(name, tags=None, encrypted=False, blocked=False):
            s3.create_bucket(Bucket=name, **location)
            if tags:
                s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
            if encrypted:
                s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": good_key["Arn"]}, "BucketKeyEnabled": True}]})
            if blocked:
                s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=BLOCK_ALL)
            return name

        buckets = {
            "public": bucket(f"demo-{short}-public-assets", encrypted=True),
            "unencrypted": bucket(f"demo-{short}-unencrypted-logs", blocked=True),
            "compliant": bucket(f"demo-{short}-compliant-twin", encrypted=True, blocked=True),
        }
        if region == "us-east-1":
            buckets["prod"] = bucket("demo-use1-prod-ledger", tags={"env": "prod"}, blocked=True)
            buckets["opted_out"] = bucket("demo-use1-legacy-exports", tags={"auto_remediate": "false"}, blocked=True)

        def group(name, rules):
            gid = ec2.create_security_group(GroupName=name, Description="fixpoint demo")["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]} for p in rules])
            return gid

        groups = {"open_admin": group(f"demo-{short}-web-admin-open", [22, 3389, 443]), "compliant": group(f"demo-{short}-web", [443])}
        instances = {}
        for kind, tokens in (("imdsv1", "optional"), ("compliant", "required")):
            instances[kind] = ec2.run_instances(
                ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                MetadataOptions={"HttpTokens": tokens, "HttpEndpoint": "enabled"},
                TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"demo-{short}-{kind}"}]}],
            )["Instances"][0]["InstanceId"]
        databases = {}
        for kind, public, backups in (("public", True, 0), ("compliant", False, 7)):
            name = f"demo-{short}-db-{kind}"
            rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="demo",
                                   MasterUserPassword="demo-password-1", AllocatedStorage=20, PubliclyAccessible=public,
                                   BackupRetentionPeriod=backups, DeletionProtection=not public)
            databases[kind] = name
        made[region] = {"buckets": buckets, "security_groups": groups, "instances": instances, "databases": databases,
                        "kms_keys": {"unrotated": bad_key["KeyId"], "compliant": good_key["KeyId"]}}
    print(json.dumps(made))


def open_port(endpoint, region, group_id, port):
    client(endpoint, "ec2", region).authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])


def read(endpoint):
    state = {}
    for region in REGIONS:
        s3, ec2, rds, kms = (client(endpoint, n, region) for n in ("s3", "ec2", "rds", "kms"))
        buckets = {}
        for b in s3.list_buckets()["Buckets"]:
            name = b["Name"]
            if not name.startswith("demo-" + ("use1" if region == "us-east-1" else "euw1")):
                continue
            try:
                rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
                encryption = rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
            except s3.exceptions.ClientError:
                encryption = None
            try:
                block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
                blocked = all(block.get(k) for k in BLOCK_ALL)
            except s3.exceptions.ClientError:
                blocked = False
            buckets[name] = {"encryption": encryption, "public_access_blocked": blocked}
        groups = {}
        for g in ec2.describe_security_groups()["SecurityGroups"]:
            if g["GroupName"].startswith("demo-"):
                groups[g["GroupId"]] = {"name": g["GroupName"], "open_ports": sorted(
                    p.get("FromPort", -1) for p in g["IpPermissions"] if any(r.get("CidrIp") == "0.0.0.0/0" for r in p.get("IpRanges", [])))}
        instances = {}
        for r in ec2.describe_instances()["Reservations"]:
            for i in r["Instances"]:
                name = next((t["Value"] for t in i.get("Tags", []) if t["Key"] == "Name"), i["InstanceId"])
                instances[name] = i.get("MetadataOptions", {}).get("HttpTokens")
        databases = {d["DBInstanceIdentifier"]: {"public": d["PubliclyAccessible"], "backup_days": d["BackupRetentionPeriod"]}
                     for d in rds.describe_db_instances()["DBInstances"]}
        keys = {}
        for k in kms.list_keys()["Keys"]:
            meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
            if meta["KeyState"] == "Enabled":
                keys[meta.get("Description") or k["KeyId"]] = kms.get_key_rotation_status(KeyId=k["KeyId"])["KeyRotationEnabled"]
        state[region] = {"buckets": buckets, "security_groups": groups, "instances": instances, "databases": databases, "kms_keys": keys}
    print(json.dumps(state))


if __name__ == "__main__":
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "ports":
        ports(int(rest[0]))
    elif command == "ping":
        from botocore.config import Config
        boto3.client("sts", endpoint_url=rest[0], region_name="us-east-1", config=Config(retries={"max_attempts": 1}, connect_timeout=1),
                     **KEYS).get_caller_identity()
    elif command == "seed":
        seed(rest[0])
    elif command == "open-port":
        open_port(rest[0], rest[1], rest[2], int(rest[3]))
    elif command == "read":
        read(rest[0])
    else:
        sys.exit(__doc__)
