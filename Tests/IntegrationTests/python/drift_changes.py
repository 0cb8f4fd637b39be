#!/usr/bin/env python3
"""Changes seed.py's resources behind Fixpoint's back, the way drift has to notice, and (with
`revert`) puts them back exactly. Prints what each change should be seen as, by external id:

  fp-private-https  SSH opened to the world                       security
  fp-compliant-bucket  its public access block removed            security (S3.8)
  fp-good-bucket    a tag's value changed                          configuration
  fp-open-rdp-v6    its rule revoked and authorized again: new rule id, same rules   none
  fp-imdsv2         IMDSv1 allowed again (HttpTokens optional)     security (EC2.8)

usage: drift_changes.py ENDPOINT REGION change|revert"""
import json
import sys

import boto3

endpoint, region, mode = sys.argv[1], sys.argv[2], sys.argv[3]
kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIAFIXPOINTSEED0001", aws_secret_access_key="seed-secret")
s3, ec2 = (boto3.client(n, **kw) for n in ("s3", "ec2"))
BLOCK = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}


def group(name):
    return ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"][0]["GroupId"]


def instance(name):
    reservations = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [name]}])["Reservations"]
    return reservations[0]["Instances"][0]["InstanceId"]


ssh = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
rdp = [{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]
private, rdp_group, imds = group("fp-private-https"), group("fp-open-rdp-v6"), instance("fp-imdsv2")
if mode == "change":
    ec2.authorize_security_group_ingress(GroupId=private, IpPermissions=ssh)
    s3.delete_public_access_block(Bucket="fp-compliant-bucket")
    s3.put_bucket_tagging(Bucket="fp-good-bucket", Tagging={"TagSet": [{"Key": "env", "Value": "staging"}]})
    ec2.modify_instance_metadata_options(InstanceId=imds, HttpTokens="optional")
else:
    ec2.revoke_security_group_ingress(GroupId=private, IpPermissions=ssh)
    s3.put_public_access_block(Bucket="fp-compliant-bucket", PublicAccessBlockConfiguration=BLOCK)
    s3.put_bucket_tagging(Bucket="fp-good-bucket", Tagging={"TagSet": [{"Key": "env", "Value": "prod"}]})
    ec2.modify_instance_metadata_options(InstanceId=imds, HttpTokens="required")
# Either way, the RDP group's one rule is taken away and given back: a new rule id, nothing else.
ec2.revoke_security_group_ingress(GroupId=rdp_group, IpPermissions=rdp)
ec2.authorize_security_group_ingress(GroupId=rdp_group, IpPermissions=rdp)
print(json.dumps({"private_group": private, "rdp_group": rdp_group, "instance": imds}))
