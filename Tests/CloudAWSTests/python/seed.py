#!/usr/bin/env python3
"""Seeds moto with a misconfigured and a compliant instance of every resource type, with boto3,
then prints what boto3 reads back (JSON), for the Swift side to compare with its own discovery.

usage: seed.py ENDPOINT REGION"""
import json
import sys

import boto3

endpoint, region = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIAFIXPOINTSEED0001", aws_secret_access_key="seed-secret")
s3, ec2, iam, rds, ct, gd, kms = (boto3.client(n, **kw) for n in ("s3", "ec2", "iam", "rds", "cloudtrail", "guardduty", "kms"))
out = {}

# s3_bucket: bad = nothing configured; good = SSE-KMS-less AES256, block public access, versioning, tags.
s3.create_bucket(Bucket="fp-bad-bucket")
s3.create_bucket(Bucket="fp-good-bucket")
s3.put_bucket_encryption(Bucket="fp-good-bucket", ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
s3.put_public_access_block(Bucket="fp-good-bucket", PublicAccessBlockConfiguration={k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")})
s3.put_bucket_versioning(Bucket="fp-good-bucket", VersioningConfiguration={"Status": "Enabled"})
s3.put_bucket_tagging(Bucket="fp-good-bucket", Tagging={"TagSet": [{"Key": "env", "Value": "prod"}]})
s3.put_bucket_policy(Bucket="fp-bad-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::fp-bad-bucket/*"}]}))
out["s3_bucket"] = {b: {
    "encrypted": "ServerSideEncryptionConfiguration" in (s3.get_bucket_encryption(Bucket=b) if b == "fp-good-bucket" else {}),
    "versioning": s3.get_bucket_versioning(Bucket=b).get("Status", "Disabled"),
} for b in ("fp-bad-bucket", "fp-good-bucket")}

# security_group: SSH open to the world; HTTPS from a private range.
vpc_id = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
open_sg = ec2.create_security_group(GroupName="fp-open-ssh", Description="open", VpcId=vpc_id)["GroupId"]
ec2.authorize_security_group_ingress(GroupId=open_sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                                                                      {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
closed_sg = ec2.create_security_group(GroupName="fp-private-https", Description="closed", VpcId=vpc_id)["GroupId"]
ec2.authorize_security_group_ingress(GroupId=closed_sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
out["security_group"] = {g["GroupId"]: sorted(f'{p["IpProtocol"]} {p.get("FromPort")}-{p.get("ToPort")} {r["CidrIp"]}'
                                             for p in g["IpPermissions"] for r in p.get("IpRanges", []))
                         for g in ec2.describe_security_groups(GroupIds=[open_sg, closed_sg])["SecurityGroups"]}

# ec2_instance: IMDSv1 allowed vs IMDSv2 required.
image = "ami-0123456789abcdef0"  # moto does not validate image ids (its AMI catalogue is switched off for speed)
v1 = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", SecurityGroupIds=[open_sg],
                       TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "fp-imdsv1"}]}])["Instances"][0]["InstanceId"]
v2 = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", MetadataOptions={"HttpTokens": "required"},
                       TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "fp-imdsv2"}]}])["Instances"][0]["InstanceId"]
out["ec2_instance"] = {i["InstanceId"]: i["MetadataOptions"]["HttpTokens"]
                       for r in ec2.describe_instances(InstanceIds=[v1, v2])["Reservations"] for i in r["Instances"]}

# ebs_volume: plain vs encrypted; ebs_encryption_default stays off.
plain = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8,
                          TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "fp-plain-volume"}]}])["VolumeId"]
enc = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8, Encrypted=True)["VolumeId"]
out["ebs_volume"] = {v["VolumeId"]: v["Encrypted"] for v in ec2.describe_volumes(VolumeIds=[plain, enc])["Volumes"]}
out["ebs_encryption_default"] = ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]

# vpc: a second VPC with a flow log to S3; the default one without.
logged = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
ec2.create_flow_logs(ResourceIds=[logged], ResourceType="VPC", TrafficType="REJECT", LogDestinationType="s3", LogDestination="arn:aws:s3:::fp-good-bucket")
out["vpc"] = {v: len(ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [v]}])["FlowLogs"]) for v in (vpc_id, logged)}

# iam_user: a user with a console password and an active key, no MFA; one without anything.
iam.create_user(UserName="fp-alice")
key = iam.create_access_key(UserName="fp-alice")["AccessKey"]["AccessKeyId"]
iam.create_login_profile(UserName="fp-alice", Password="Secret-Passw0rd!")
iam.create_user(UserName="fp-bob")
iam.update_account_password_policy(MinimumPasswordLength=8, RequireSymbols=False)
out["iam_user"] = {u: [k["AccessKeyId"] + ":" + k["Status"] for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]] for u in ("fp-alice", "fp-bob")}
out["iam_password_policy"] = iam.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"]

# rds_instance: public without backups vs private with backups and deletion protection.
rds.create_db_instance(DBInstanceIdentifier="fp-db-bad", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="u",
                       MasterUserPassword="password123", AllocatedStorage=20, PubliclyAccessible=True, BackupRetentionPeriod=0)
rds.create_db_instance(DBInstanceIdentifier="fp-db-good", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="u",
                       MasterUserPassword="password123", AllocatedStorage=20, PubliclyAccessible=False, BackupRetentionPeriod=7,
                       DeletionProtection=True, StorageEncrypted=True)
out["rds_instance"] = {d["DBInstanceIdentifier"]: [d["PubliclyAccessible"], d["BackupRetentionPeriod"], d["DeletionProtection"]]
                       for d in rds.describe_db_instances()["DBInstances"]}

# cloudtrail_trail: logging multi-region with validation vs a single-region one, not logging.
s3.create_bucket(Bucket="fp-trail-logs")
# moto (like old S3) accepts a bucket as a logging target only once the log-delivery group may write to it.
s3.put_bucket_acl(Bucket="fp-trail-logs", GrantWrite='uri="http://acs.amazonaws.com/groups/s3/LogDelivery"',
                  GrantReadACP='uri="http://acs.amazonaws.com/groups/s3/LogDelivery"')
ct.create_trail(Name="fp-good-trail", S3BucketName="fp-trail-logs", IsMultiRegionTrail=True, EnableLogFileValidation=True)
ct.start_logging(Name="fp-good-trail")
ct.create_trail(Name="fp-bad-trail", S3BucketName="fp-trail-logs")
out["cloudtrail_trail"] = {t["Name"]: [t["IsMultiRegionTrail"], t["LogFileValidationEnabled"], ct.get_trail_status(Name=t["Name"])["IsLogging"]]
                           for t in ct.describe_trails()["trailList"]}

# guardduty_detector: none (GuardDuty not enabled in the region).
out["guardduty_detector"] = gd.list_detectors()["DetectorIds"]

# kms_key: rotation on vs off.
rotated = kms.create_key(Description="fp rotated")["KeyMetadata"]["KeyId"]
kms.enable_key_rotation(KeyId=rotated)
plain_key = kms.create_key(Description="fp not rotated")["KeyMetadata"]["KeyId"]
out["kms_key"] = {k: kms.get_key_rotation_status(KeyId=k)["KeyRotationEnabled"] for k in (rotated, plain_key)}

print(json.dumps(out))
