#!/usr/bin/env python3
"""Writes sim/data/send_monthly.tsv, the public monthly series of SEND notifications
(analog and digital per month) that `sendsim project` compares its projection with.

Input: the "SEND in numeri" dashboard data of notifichedigitali.it (section 1: notifications
per month), as published by pagopa/pn-showcase-site. Usage:

    python3 scripts/gen_monthly_series.py PATH/TO/dashboard-send-sezione1.json > sim/data/send_monthly.tsv
"""
import json
import sys


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    rows = sorted(data["notifiche_per_mese"], key=lambda r: r["month"])
    print(f"# SEND notifications per month (SEND in numeri, snapshot {data['last_run'][:10]})")
    print("month\tanalog\tdigital")
    for r in rows:
        if r["num_iun_analog"] + r["num_iun_digital"] != r["num_iun_total"]:
            sys.exit(f"{r['month']}: analog + digital != total")
        print(f"{r['month']}\t{r['num_iun_analog']}\t{r['num_iun_digital']}")


if __name__ == "__main__":
    main()
