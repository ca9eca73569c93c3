import sys, csv, math, statistics as st
def p10(xs):
    s=sorted(xs); return s[max(0, math.ceil(0.1*len(s))-1)] if s else float('nan')
for f in sys.argv[1:]:
    rows=[r for r in csv.DictReader(l for l in open(f) if not l.startswith('#'))]
    groups={}
    for r in rows: groups.setdefault((r['configuration'],r['method']),[]).append(r)
    for (c,m),g in sorted(groups.items()):
        fl=lambda k:[float(r[k]) for r in g if r[k]!='']
        p=fl('percent_of_optimum'); rr=fl('rounds'); gc=fl('gap_closed'); sv=fl('served_fraction')
        conv=sum(r['converged']=='true' for r in g)
        line=f"{f.split('/')[-2]:12s} {c:11s} {m:24s} n={len(g):3d} "
        if p: line+=f"pct mean={st.mean(p):7.2f} p10={p10(p):7.2f} min={min(p):7.2f} "
        if rr: line+=f"rounds med={st.median(rr):6.0f} p90={sorted(rr)[math.ceil(0.9*len(rr))-1]:6.0f} conv={conv} "
        if gc: line+=f"gap mean={st.mean(gc):.3f} med={st.median(gc):.3f} p10={p10(gc):.3f} n_gap={len(gc)} "
        if sv: line+=f"served={st.mean(sv):.3f}"
        print(line)
