#!/usr/bin/env python3
"""An analyst's baseline: P3, the maximum-welfare LP of a brokerflow market file,
written directly with scipy and solved by scipy.optimize.linprog(method="highs").

It is what a careful analyst would write without brokerflow: an arc-based
multicommodity flow on the market's own links (no expanded graph), one commodity per
user, with the same pruning brokerflow does (design §4): a commodity gets variables
only on links and deliveries on some path from its user to an eligible provider
through nodes and links of positive capacity. The LP is the same as brokerflow's P3,
so the optima agree:

    max  Σ_k Σ_p (v_k − c_p·r_k)·y[k,p] − Σ_k Σ_(a,b) (c_ab + c_a)·x[k,(a,b)]
    s.t. out of user k ≤ d_k;  in = out at every broker;  in = y[k,p] at provider p;
         Σ_k (jobs through broker b) ≤ R_b;  Σ_k x[k,l] ≤ B_l;  Σ_k r_k·y[k,p] ≤ R_p;
         x, y ≥ 0

(c_a: the broker's cost per job when the link leaves a broker, 0 when it leaves a
user.) Prints one JSON line: {"welfare": W, "variables": n, "constraints": m}, and
the build and solve times in clearly named fields.

Usage: python3 scipy_welfare_lp.py MARKET.json        (needs numpy and scipy)
"""

import json
import sys
import time
from collections import defaultdict


def main(path):
    t0 = time.perf_counter()
    import numpy as np
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    with open(path) as f:
        m = json.load(f)
    users = {u["id"]: u for u in m["users"]}
    brokers = {b["id"]: b for b in m["brokers"]}
    providers = {p["id"]: p for p in m["providers"]}

    def cap(node):
        return node.get("capacity")

    def positive(node):
        c = cap(node)
        return c is None or c > 0

    out_links = defaultdict(list)  # node id -> indices of links leaving it
    in_links = defaultdict(list)
    for i, l in enumerate(m["links"]):
        bw = l.get("bandwidth")
        if bw is not None and bw <= 0:
            continue  # a link that is down carries nothing
        out_links[l["from"]].append(i)
        in_links[l["to"]].append(i)
    links = m["links"]

    def node(i):
        return brokers.get(i) or providers.get(i)

    # Variables: (k, link) and (k, provider) pairs on some usable path.
    obj, var_link, var_prov = [], [], []  # objective; per var: link index or -1; provider or None
    var_k = []
    for k, u in enumerate(m["users"]):
        if u["demand"] <= 0:
            continue
        eligible = set(u["eligible"]) if u.get("eligible") is not None else None
        # Forward: nodes reached from the user through positive-capacity nodes.
        seen = {u["id"]}
        stack = [u["id"]]
        while stack:
            a = stack.pop()
            for li in out_links[a]:
                b = links[li]["to"]
                if b not in seen and positive(node(b)):
                    seen.add(b)
                    stack.append(b)
        targets = [
            p for p in seen
            if p in providers and (eligible is None or p in eligible)
        ]
        # Backward from the eligible providers reached, within the forward set.
        back = set(targets)
        stack = list(targets)
        usable_links = []
        while stack:
            b = stack.pop()
            for li in in_links[b]:
                a = links[li]["from"]
                if a in seen:
                    usable_links.append(li)
                    if a not in back:
                        back.add(a)
                        stack.append(a)
        for li in usable_links:
            l = links[li]
            sender = brokers.get(l["from"])
            obj.append(-(l.get("cost", 0.0) + (sender.get("cost", 0.0) if sender else 0.0)))
            var_link.append(li)
            var_prov.append(None)
            var_k.append(k)
        for p in targets:
            obj.append(u["valuation"] - providers[p].get("cost", 0.0) * u["requirement"])
            var_link.append(-1)
            var_prov.append(p)
            var_k.append(k)

    n = len(obj)
    eq_r, eq_c, eq_v = [], [], []
    ub_r, ub_c, ub_v, ub_b = [], [], [], []
    n_eq = 0
    n_ub = 0
    # Conservation rows per (commodity, node): key -> row.
    eq_row = {}
    src_row = {}
    cap_row = {}

    def cap_index(key, bound):
        nonlocal n_ub
        if key not in cap_row:
            cap_row[key] = n_ub
            ub_b.append(bound)
            n_ub += 1
        return cap_row[key]

    def conservation(k, v):
        nonlocal n_eq
        key = (k, v)
        if key not in eq_row:
            eq_row[key] = n_eq
            n_eq += 1
        return eq_row[key]

    for j in range(n):
        k = var_k[j]
        u = m["users"][k]
        li = var_link[j]
        if li >= 0:
            a, b = links[li]["from"], links[li]["to"]
            # Leaves a: the user's supply row or a's conservation row.
            if a == u["id"]:
                if k not in src_row:
                    src_row[k] = cap_index(("user", k), u["demand"])
                ub_r.append(src_row[k]); ub_c.append(j); ub_v.append(1.0)
            else:
                eq_r.append(conservation(k, a)); eq_c.append(j); eq_v.append(1.0)
                if cap(brokers[a]) is not None:  # jobs through the broker
                    ub_r.append(cap_index(("node", a), cap(brokers[a])))
                    ub_c.append(j); ub_v.append(1.0)
            eq_r.append(conservation(k, b)); eq_c.append(j); eq_v.append(-1.0)
            bw = links[li].get("bandwidth")
            if bw is not None:
                ub_r.append(cap_index(("link", li), bw)); ub_c.append(j); ub_v.append(1.0)
        else:
            p = var_prov[j]
            eq_r.append(conservation(k, p)); eq_c.append(j); eq_v.append(1.0)
            if cap(providers[p]) is not None:
                ub_r.append(cap_index(("node", p), cap(providers[p])))
                ub_c.append(j); ub_v.append(u["requirement"])

    c = -np.asarray(obj)
    a_eq = coo_matrix((eq_v, (eq_r, eq_c)), shape=(n_eq, n)).tocsr() if n_eq else None
    a_ub = coo_matrix((ub_v, (ub_r, ub_c)), shape=(n_ub, n)).tocsr() if n_ub else None
    t1 = time.perf_counter()
    if n == 0:
        welfare = 0.0
    else:
        res = linprog(
            c,
            A_ub=a_ub,
            b_ub=np.asarray(ub_b) if n_ub else None,
            A_eq=a_eq,
            b_eq=np.zeros(n_eq) if n_eq else None,
            bounds=(0, None),
            method="highs",
        )
        if res.status != 0:
            print(json.dumps({"error": res.message}))
            return 1
        welfare = -res.fun + 0.0
    t2 = time.perf_counter()
    print(json.dumps({
        "welfare": welfare,
        "variables": n,
        "constraints": n_eq + n_ub,
        "solver": "scipy.optimize.linprog(method='highs')",
        "build_seconds": t1 - t0,
        "solve_seconds": t2 - t1,
    }))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
