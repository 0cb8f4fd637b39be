#!/usr/bin/env python3
"""Fixes, with boto3 behind Fixpoint's back, what seed.py left failing on the account as a whole
and the public access of fp-bad-bucket: the account's S3 public access block (S3.1), EBS default
encryption (EC2.7), GuardDuty (GuardDuty.1), a trail recording all management events
(CloudTrail.1), the password policy (IAM.15, IAM.16), and fp-bad-bucket's block (S3.8, S3.2).
Prints the pairs now expected to pass, as seed.py names them.

usage: fix_account.py ENDPOINT REGION"""
import json
import sys

import boto3
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

endpoint, region = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIAFIXPOINTSEED0001", aws_secret_access_key="seed-secret")
s3, ec2, gd, ct, iam, sts = (boto3.client(n, **kw) for n in ("s3", "ec2", "guardduty", "cloudtrail", "iam", "sts"))
account = sts.get_caller_identity()["Account"]
block = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}

# boto3's s3control client puts the account id in the host name, which moto cannot route; sign it by hand.
body = ('<PublicAccessBlockConfiguration xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">'
        + "".join(f"<{k}>true</{k}>" for k in block) + "</PublicAccessBlockConfiguration>").encode()
req = AWSRequest(method="PUT", url=f"{endpoint}/v20180820/configuration/publicAccessBlock", data=body, headers={"x-amz-account-id": account, "Content-Type": "application/xml"})
SigV4Auth(Credentials(kw["aws_access_key_id"], kw["aws_secret_access_key"]), "s3", region).add_auth(req)
urllib.request.urlopen(urllib.request.Request(req.url, data=body, method="PUT", headers=dict(req.headers.items()))).read()
s3.put_public_access_block(Bucket="fp-bad-bucket", PublicAccessBlockConfiguration=block)
ec2.enable_ebs_encryption_by_default()
gd.create_detector(Enable=True)
ct.put_event_selectors(TrailName="fp-good-trail", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}])
iam.update_account_password_policy(MinimumPasswordLength=14, PasswordReusePrevention=24, RequireSymbols=True)
print(json.dumps(sorted([
    f"S3.1 arn:aws:s3:::account/{account}", "S3.8 arn:aws:s3:::fp-bad-bucket", "S3.2 arn:aws:s3:::fp-bad-bucket",
    f"EC2.7 arn:aws:ec2:{region}:{account}:ebs-encryption-default", f"GuardDuty.1 arn:aws:guardduty:{region}:{account}:detector",
    f"CloudTrail.1 arn:aws:cloudtrail::{account}:trails", f"IAM.15 arn:aws:iam::{account}:account-password-policy",
    f"IAM.16 arn:aws:iam::{account}:account-password-policy",
])))
