#!/usr/bin/env python3
"""Seeds moto with N misconfigured resources per category for scripts/bench-remediation:
buckets without encryption or public access block, security groups with SSH and RDP open to the
world, instances allowing IMDSv1, RDS instances public and without backups.

usage: seed_remediation.py ENDPOINT N"""
import sys
from concurrent.futures import ThreadPoolExecutor

from bench_aws import clients

endpoint, n = sys.argv[1], int(sys.argv[2])
s3, ec2, rds = clients(endpoint, "s3", "ec2", "rds")


def retry(fn):
    for attempt in range(5):  # moto is not fully thread-safe on concurrent creates
        try:
            return fn()
        except Exception:
            if attempt == 4:
                raise


def bucket(i):
    retry(lambda: s3.create_bucket(Bucket=f"fix-bucket-{i:05d}"))


def sg(i):
    def make():
        gid = ec2.create_security_group(GroupName=f"fix-sg-{i:05d}", Description="bench")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    retry(make)


def db(i):
    retry(lambda: rds.create_db_instance(DBInstanceIdentifier=f"fix-db-{i:05d}", DBInstanceClass="db.t3.micro", Engine="postgres",
                                         MasterUsername="u", MasterUserPassword="password123", AllocatedStorage=20,
                                         PubliclyAccessible=True, BackupRetentionPeriod=0))


with ThreadPoolExecutor(4) as pool:
    for fn in (bucket, sg, db):
        list(pool.map(fn, range(n)))
left = n
while left:
    batch = min(50, left)
    ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=batch, MaxCount=batch, InstanceType="t3.micro",
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "bench", "Value": "imds"}]}])
    left -= batch
