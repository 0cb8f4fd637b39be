"""What the benchmark scripts share: boto3 clients for a moto endpoint with the benchmarks' fixed
credentials, and every item of a paginated listing."""
import boto3


def clients(endpoint, *services, region="us-east-1"):
    kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIAFIXPOINTBENCH001", aws_secret_access_key="bench")
    return tuple(boto3.client(s, **kw) for s in services)


def every(client, operation, key, **kw):
    """Every item across pages: a reader that skips page 2 would see less than there is."""
    for page in client.get_paginator(operation).paginate(**kw):
        yield from page[key]
