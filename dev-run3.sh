#!/usr/bin/env bash
set -u
source .device-deps/env.sh
S=$OUT/summary.txt
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j16 >/dev/null 2>&1 || echo "build failed" >> $S
mkdir -p /tmp/kvr && cd /tmp/kvr
for m in small small small llama-3.1-8b llama-3.1-8b; do
  $OLDPWD/build/bin/ferry-kv run --model $m --json /tmp/kvr/o.json >/dev/null 2>&1; echo "rc $? $m" >> $S
  python3 -c "import json;d=json.load(open('/tmp/kvr/o.json'));print({k:round(v,1) for k,v in d.items() if ('lookup' in k or 'gbps' in k) and isinstance(v,(int,float))})" >> $S 2>&1
done
echo done
