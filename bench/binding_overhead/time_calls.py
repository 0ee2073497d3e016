# Times one call of each binding (run.sh builds the two modules first).
import time, nbm, pbm
def t(fn, n=1000000):
    s=time.perf_counter()
    for i in range(n): fn(i)
    return (time.perf_counter()-s)/n*1e9
res={}
for r in range(5):
    for name, m in (("nanobind", nbm), ("pybind11", pbm)):
        x=m.X()
        res.setdefault((name,"f"),[]).append(t(m.f))
        res.setdefault((name,"X.post (GIL released)"),[]).append(t(x.post))
for k,v in sorted(res.items()): print(k, "median ns/call %.0f"%sorted(v)[2])
