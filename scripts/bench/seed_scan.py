#!/usr/bin/env python3
"""Seeds moto with N resources of each kind for scripts/bench-scan, half of them misconfigured in
the ways the FSBP controls both Fixpoint and Prowler have look for (boto3, a few threads): S3 buckets,
security groups, EC2 instances (each with its root volume), EBS volumes and their snapshots,
IAM users with access keys, KMS keys, RDS instances and Lambda functions.

usage: seed_scan.py ENDPOINT N"""
import functools
import io
import json
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor

import boto3

endpoint, n = sys.argv[1], int(sys.argv[2])
region = "us-east-1"
kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIAFIXPOINTBENCH001", aws_secret_access_key="bench")
s3, ec2, iam, kms, rds, lam = (boto3.client(x, **kw) for x in ("s3", "ec2", "iam", "kms", "rds", "lambda"))
BLOCK = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}


def retried(fn):
    """moto is not fully thread-safe on concurrent creates. A resource whose seeding fails part way
    is named and the seed stops: a retry of the whole function would trip over what it already made,
    and a silently thinner estate would skew both tools' numbers alike."""
    @functools.wraps(fn)
    def run(i):
        try:
            return fn(i)
        except Exception as error:
            raise SystemExit(f"seed_scan: {fn.__name__} {i}: {error}") from error
    return run


@retried
def bucket(i):
    name = f"scan-bucket-{i:05d}"
    s3.create_bucket(Bucket=name)
    if i % 2:
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=BLOCK)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if i % 4 == 0:
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))


@retried
def sg(i):
    gid = ec2.create_security_group(GroupName=f"scan-sg-{i:05d}", Description="bench")["GroupId"]
    port = (22, 3389, 443, 8080)[i % 4]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0" if i % 2 == 0 else "10.0.0.0/8"}]}])


@retried
def volume(i):
    v = ec2.create_volume(AvailabilityZone=f"{region}a", Size=1, Encrypted=bool(i % 2))["VolumeId"]
    s = ec2.create_snapshot(VolumeId=v)["SnapshotId"]
    if i % 4 == 0:
        ec2.modify_snapshot_attribute(SnapshotId=s, Attribute="createVolumePermission", OperationType="add", GroupNames=["all"])


# moto loads no AWS-managed policies unless told to: the users share one customer-managed policy.
policy = iam.create_policy(PolicyName="scan-read", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))["Policy"]["Arn"]


@retried
def user(i):
    name = f"scan-user-{i:05d}"
    iam.create_user(UserName=name)
    iam.create_access_key(UserName=name)
    if i % 2 == 0:
        iam.attach_user_policy(UserName=name, PolicyArn=policy)


@retried
def key(i):
    k = kms.create_key(Description=f"scan {i}")["KeyMetadata"]["KeyId"]
    if i % 2:
        kms.enable_key_rotation(KeyId=k)


@retried
def db(i):
    rds.create_db_instance(DBInstanceIdentifier=f"scan-db-{i:05d}", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="u", MasterUserPassword="password123", AllocatedStorage=20, BackupRetentionPeriod=7 * (i % 2),
                           PubliclyAccessible=i % 4 == 0, StorageEncrypted=bool(i % 2), DeletionProtection=bool(i % 2))


archive = io.BytesIO()
with zipfile.ZipFile(archive, "w") as z:
    z.writestr("handler.py", "def handler(event, context):\n    return 1\n")
role = iam.create_role(RoleName="scan-lambda", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]


@retried
def function(i):
    name = f"scan-function-{i:05d}"
    try:
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler", Code={"ZipFile": archive.getvalue()})
    except lam.exceptions.ResourceConflictException:
        pass
    if i % 2 == 0:
        lam.add_permission(FunctionName=name, StatementId="anyone", Action="lambda:InvokeFunction", Principal="*")


with ThreadPoolExecutor(4) as pool:
    for fn in (bucket, sg, volume, user, key, db, function):
        list(pool.map(fn, range(n)))
        print(f"seeded {n} × {fn.__name__}", file=sys.stderr)
for tokens in ("required", "optional"):  # half of them answer IMDSv1
    left = n // 2 if tokens == "required" else n - n // 2
    while left:
        batch = min(50, left)
        ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=batch, MaxCount=batch, InstanceType="t3.micro",
                          MetadataOptions={"HttpTokens": tokens})
        left -= batch
print(f"seeded {n} × instance", file=sys.stderr)
