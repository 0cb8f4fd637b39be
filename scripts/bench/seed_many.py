#!/usr/bin/env python3
"""Seeds moto with about N resources of mixed types for scripts/bench-sync (boto3, a few threads).

usage: seed_many.py ENDPOINT N"""
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3

endpoint, n = sys.argv[1], int(sys.argv[2])
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIAFIXPOINTBENCH001", aws_secret_access_key="bench")
s3, ec2, iam, kms, rds = (boto3.client(x, **kw) for x in ("s3", "ec2", "iam", "kms", "rds"))
share = {"bucket": 0.2, "sg": 0.3, "instance": 0.15, "user": 0.1, "key": 0.1, "db": 0.05}  # instances bring a root volume each
counts = {k: max(1, int(n * v)) for k, v in share.items()}


def bucket(i):
    name = f"bench-bucket-{i:05d}"
    s3.create_bucket(Bucket=name)
    if i % 2:
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    if i % 3 == 0:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "env", "Value": "bench"}]})


def sg(i):
    for attempt in range(5):  # moto is not fully thread-safe on concurrent creates
        try:
            gid = ec2.create_security_group(GroupName=f"bench-sg-{i:05d}", Description="bench")["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22 + i % 3, "ToPort": 22 + i % 3, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
            return
        except Exception:
            if attempt == 4:
                raise


def user(i):
    iam.create_user(UserName=f"bench-user-{i:05d}")
    if i % 2:
        iam.create_access_key(UserName=f"bench-user-{i:05d}")


def key(i):
    k = kms.create_key(Description=f"bench {i}")["KeyMetadata"]["KeyId"]
    if i % 2:
        kms.enable_key_rotation(KeyId=k)


def db(i):
    rds.create_db_instance(DBInstanceIdentifier=f"bench-db-{i:05d}", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="u", MasterUserPassword="password123", AllocatedStorage=20, BackupRetentionPeriod=i % 8)


with ThreadPoolExecutor(4) as pool:
    for fn, k in ((bucket, "bucket"), (sg, "sg"), (user, "user"), (key, "key"), (db, "db")):
        list(pool.map(fn, range(counts[k])))
left = counts["instance"]
while left:
    batch = min(50, left)
    ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=batch, MaxCount=batch, InstanceType="t3.micro")
    left -= batch
print(counts)
