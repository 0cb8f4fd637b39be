#!/usr/bin/env python3
"""scripts/bench-scan's two questions to the data, answered from files.

  scan_compare.py checks CONTROLS_JSON PROWLER_FSBP_MAPPING
      The Prowler checks that Prowler's own FSBP mapping gives for the FSBP controls Fixpoint
      automates (CONTROLS_JSON is `fixpoint compliance controls --framework fsbp --output json`),
      space-separated.

  scan_compare.py compare FIXPOINT_EXPORT PROWLER_OCSF PROWLER_FSBP_MAPPING JOB_JSON "SYNC ASSESS PROWLER SCANNING"
      The timings and the verdicts: every (control, resource) both tools judged pass or fail, the
      share on which they agree, and each disagreement with both sides' reasons. A control Prowler
      checks with several checks fails a resource when any of them fails it. A resource is matched
      by the last segment of its ARN or id (bucket name, sg-…, user name, key id, db identifier,
      function name); an account-level control (one verdict a side) is matched as the account.
"""
import collections
import json
import re
import sys


def mapping(path):
    """FSBP id -> Prowler checks, from Prowler's compliance file."""
    doc = json.load(open(path))
    return {r["Id"]: list(r.get("Checks") or []) for r in doc["Requirements"]}


def automated(controls_path):
    return [c["id"] for c in json.load(open(controls_path)) if c.get("automated")]


def key(resource_id):
    return re.split(r"[:/]", resource_id.rstrip("/"))[-1]


def checks(controls_path, mapping_path):
    fsbp = mapping(mapping_path)
    names = sorted({check for control in automated(controls_path) for check in fsbp.get(control, [])})
    print(" ".join(names))


def compare(fixpoint_path, prowler_path, mapping_path, job_path, times):
    sync, assess, prowler_time, scanning = (float(x) for x in times.split())
    job = json.load(open(job_path))[0]
    fsbp = mapping(mapping_path)
    ours = collections.defaultdict(dict)      # control -> key -> (verdict, reason)
    for r in json.load(open(fixpoint_path))["results"]:
        status = {"STATUS_PASS": "pass", "STATUS_FAIL": "fail"}.get(r.get("status"))
        if status and fsbp.get(r["control_id"]):
            ours[r["control_id"]][key(r["resource"]["external_id"])] = (status, r.get("reason", ""))
    by_check = collections.defaultdict(list)
    for control, names in fsbp.items():
        for name in names:
            by_check[name].append(control)
    theirs = collections.defaultdict(dict)
    for f in json.load(open(prowler_path)):
        status = {"PASS": "pass", "FAIL": "fail"}.get(f.get("status_code"))
        if not status:
            continue
        check = f["metadata"]["event_code"]
        for control in by_check.get(check, []):
            if control not in ours:
                continue
            for res in f.get("resources") or [{}]:
                k = key(res.get("uid") or res.get("name") or "")
                was = theirs[control].get(k)
                if was is None or (was[0] == "pass" and status == "fail"):
                    theirs[control][k] = (status, f"{check}: {f.get('status_detail', '')}")
    lines = []
    total = agree = 0
    unmatched = []
    for control in sorted(ours, key=lambda c: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", c)]):
        a, b = ours[control], theirs.get(control, {})
        if len(a) == 1 and len(b) == 1 and set(a) != set(b):   # an account-level control
            b = {next(iter(a)): next(iter(b.values()))}
        both = sorted(set(a) & set(b))
        same = [k for k in both if a[k][0] == b[k][0]]
        total, agree = total + len(both), agree + len(same)
        if len(both) < max(len(a), len(b)):
            unmatched.append(f"{control} (fixpoint {len(a)}, prowler {len(b)}, matched {len(both)})")
        differ = [k for k in both if a[k][0] != b[k][0]]
        if differ:
            lines.append(f"  {control}: {len(differ)} of {len(both)} differ")
            for k in differ[:2]:
                lines.append(f"    {k}: fixpoint {a[k][0]} ({a[k][1][:110]}); prowler {b[k][0]} ({b[k][1][:110]})")
    out = [
        f"about {int(job.get('created', 0))} resources read by inventory; {len(ours)} FSBP controls both tools automate",
        f"  fixpoint sync {sync:6.1f} s + assess {assess:5.1f} s = {sync + assess:6.1f} s",
        f"  prowler (same controls' checks)        {prowler_time:6.1f} s    ratio fixpoint/prowler {(sync + assess) / prowler_time:.2f}x (target: at most 0.5x)",
        f"    of which prowler's scan, start-up excluded {scanning:6.1f} s    ratio fixpoint/prowler-scan {(sync + assess) / scanning:.2f}x" if scanning else "    (prowler's log named no scan time)",
        f"  verdicts on (control, resource) pairs both judged: {agree} of {total} agree" + (f" ({100 * agree / total:.1f}%)" if total else ""),
    ]
    if unmatched:
        out.append("  judged by one side only (not compared): " + "; ".join(unmatched))
    print("\n".join(out + lines))


if __name__ == "__main__":
    {"checks": checks, "compare": compare}[sys.argv[1]](*sys.argv[2:])
