#!/bin/sh
# A real 2-host run of bench_dist on one machine: two network namespaces joined by a veth pair
# (10.77.0.1 / 10.77.0.2), an optional rate limit (tc tbf), mpirun in the first namespace
# starting the second "host" through an rsh agent that enters the namespace. TCP only (no shared
# memory between the ranks); nothing leaves the machine. Needs root (ip netns, tc).
# usage: bench/mpi/netns_run.sh BUILD_DIR [RATE ...]   e.g. build unlimited 1gbit 100mbit
set -eu
build=$(cd "$1" && pwd); shift
[ $# -gt 0 ] || set -- unlimited 1gbit 100mbit
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
agent=$(mktemp /tmp/dctr_ns_agent.XXXXXX)
cat > "$agent" <<'AGENT'
#!/bin/sh
host=$1; shift
case "$host" in 10.77.0.1) ns=dctr_a ;; 10.77.0.2) ns=dctr_b ;; *) exit 1 ;; esac
exec ip netns exec "$ns" sh -c "$*"
AGENT
chmod +x "$agent"
del_ns() { ip netns del dctr_a 2>/dev/null || true; ip netns del dctr_b 2>/dev/null || true; }
trap 'del_ns; rm -f "$agent"' EXIT
del_ns
ip netns add dctr_a
ip netns add dctr_b
ip link add dctr_va type veth peer name dctr_vb
ip link set dctr_va netns dctr_a
ip link set dctr_vb netns dctr_b
ip -n dctr_a addr add 10.77.0.1/24 dev dctr_va
ip -n dctr_b addr add 10.77.0.2/24 dev dctr_vb
for ns in a b; do ip -n dctr_$ns link set dctr_v$ns up; ip -n dctr_$ns link set lo up; done
for rate in "$@"; do
  for ns in a b; do
    ip netns exec dctr_$ns tc qdisc del dev dctr_v$ns root 2>/dev/null || true
    [ "$rate" = unlimited ] || ip netns exec dctr_$ns tc qdisc add dev dctr_v$ns root tbf rate "$rate" burst 256kb latency 100ms
  done
  echo "==== 2 hosts over veth, rate $rate"
  ip netns exec dctr_a mpirun --mca plm_rsh_agent "$agent" --host 10.77.0.1:1,10.77.0.2:1 -np 2 \
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
    -x OPENBLAS_NUM_THREADS -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
    "$build/bench/bench_dist" --rows "${ROWS:-20000}" --dir /tmp | sed -n '1,5p'
done
