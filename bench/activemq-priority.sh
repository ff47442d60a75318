#!/usr/bin/env bash
# Start/stop Debian's ActiveMQ 5.17 for the priority-drain and routing benchmarks:
#
#   bench/activemq-priority.sh start WORKDIR   write the config, start, print the STOMP port
#   bench/activemq-priority.sh stop  WORKDIR   stop it and delete WORKDIR (KEEP_AMQ_DIR=1 keeps it)
#
# The broker is conformance/reference/activemq.sh's (same KahaDB, memory limits, heap,
# redelivery plugin and loopback STOMP connector, so the figures compare with the other
# benchmarks) plus what the conformance reference must not have: a policy entry with
# prioritizedMessages="true" on every queue. Without it ActiveMQ dispatches queues in FIFO
# order and ignores JMSPriority, which is not the behaviour being compared.
#
# AMQ_QUEUE_POLICY replaces the policy entry's attributes (default: prioritizedMessages="true");
# bench/run.sh routing --amq-max-page-size N uses it for maxPageSize="N".
set -euo pipefail

export AMQ_QUEUE_POLICY=${AMQ_QUEUE_POLICY:-'prioritizedMessages="true"'}
exec bash "$(dirname "${BASH_SOURCE[0]}")/../conformance/reference/activemq.sh" "$@"
