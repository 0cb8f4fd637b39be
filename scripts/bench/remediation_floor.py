#!/usr/bin/env python3
"""The floor for scripts/bench-remediation: plain boto3 doing the minimal read, write and read per
fix, sequentially, for the same fixes Fixpoint makes. Prints the number of fixes.

usage: remediation_floor.py ENDPOINT"""
import sys

from bench_aws import clients, every

s3, ec2, rds = clients(sys.argv[1], "s3", "ec2", "rds")
fixes = 0


for b in s3.list_buckets()["Buckets"]:
    name = b["Name"]
    if not name.startswith("fix-bucket-"):
        continue
    try:
        s3.get_bucket_encryption(Bucket=name)
    except s3.exceptions.ClientError:
        pass
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]})
    s3.get_bucket_encryption(Bucket=name)
    try:
        s3.get_public_access_block(Bucket=name)
    except s3.exceptions.ClientError:
        pass
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")})
    s3.get_public_access_block(Bucket=name)
    fixes += 2
for g in every(ec2, "describe_security_groups", "SecurityGroups", Filters=[{"Name": "group-name", "Values": ["fix-sg-*"]}]):
    gid = g["GroupId"]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]
    bad = [r["SecurityGroupRuleId"] for r in rules if not r["IsEgress"] and r.get("CidrIpv4") == "0.0.0.0/0" and r.get("FromPort") in (22, 3389)]
    ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=bad)
    ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])
    fixes += 1
for r in every(ec2, "describe_instances", "Reservations", Filters=[{"Name": "tag:bench", "Values": ["imds"]}]):
    for i in r["Instances"]:
        ec2.describe_instances(InstanceIds=[i["InstanceId"]])
        ec2.modify_instance_metadata_options(InstanceId=i["InstanceId"], HttpTokens="required")
        ec2.describe_instances(InstanceIds=[i["InstanceId"]])
        fixes += 1
for d in every(rds, "describe_db_instances", "DBInstances"):
    ident = d["DBInstanceIdentifier"]
    if not ident.startswith("fix-db-"):
        continue
    rds.describe_db_instances(DBInstanceIdentifier=ident)
    rds.modify_db_instance(DBInstanceIdentifier=ident, BackupRetentionPeriod=7, ApplyImmediately=True)
    rds.describe_db_instances(DBInstanceIdentifier=ident)
    rds.describe_db_instances(DBInstanceIdentifier=ident)
    rds.modify_db_instance(DBInstanceIdentifier=ident, PubliclyAccessible=False, ApplyImmediately=True)
    rds.describe_db_instances(DBInstanceIdentifier=ident)
    fixes += 2
print(fixes)
