#!/usr/bin/env bash
# Start/stop Debian's ActiveMQ 5.17 for the priority-drain benchmark:
#
#   bench/activemq-priority.sh start WORKDIR   write the config, start, print the STOMP port
#   bench/activemq-priority.sh stop  WORKDIR   stop it and delete WORKDIR (KEEP_AMQ_DIR=1 keeps it)
#
# The configuration is conformance/reference/activemq.sh's (same KahaDB, memory limits, heap,
# redelivery plugin and loopback STOMP connector, so the figures compare with the other
# benchmarks) plus one thing the conformance reference must not have: a policy entry with
# prioritizedMessages="true" on every queue. Without it ActiveMQ dispatches queues in FIFO
# order and ignores JMSPriority, which is not the behaviour being compared. Keep the two
# configurations in step.
#
# AMQ_QUEUE_POLICY replaces the policy entry's attributes (default: prioritizedMessages="true");
# bench/run.sh routing --amq-max-page-size N uses it for maxPageSize="N".
set -euo pipefail

# shellcheck source=SCRIPTDIR/../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

AMQ_JAR=/usr/share/activemq/bin/activemq.jar
START_TIMEOUT=${AMQ_START_TIMEOUT:-90}
policy=${AMQ_QUEUE_POLICY:-'prioritizedMessages="true"'}

log() { printf 'activemq-priority.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_pid() {
    local pid
    [[ -f $1/activemq.pid ]] || return 1
    pid=$(<"$1/activemq.pid")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

write_config() {
    local dir=$1 port=$2
    mkdir -p "$dir/conf" "$dir/data" "$dir/tmp"
    cat >"$dir/conf/activemq.xml" <<EOF
<beans
  xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
    <bean class="org.springframework.beans.factory.config.PropertyPlaceholderConfigurer"/>
    <broker xmlns="http://activemq.apache.org/schema/core"
            brokerName="ferromq-bench-priority"
            useJmx="false"
            schedulerSupport="true"
            dataDirectory="\${activemq.data}">
        <destinationPolicy>
            <policyMap>
                <policyEntries>
                    <policyEntry queue=">" ${policy}/>
                </policyEntries>
            </policyMap>
        </destinationPolicy>
        <plugins>
            <redeliveryPlugin fallbackToDeadLetter="true" sendToDlqIfMaxRetriesExceeded="true">
                <redeliveryPolicyMap>
                    <redeliveryPolicyMap>
                        <defaultEntry>
                            <redeliveryPolicy maximumRedeliveries="6"
                                              initialRedeliveryDelay="1000" redeliveryDelay="1000"/>
                        </defaultEntry>
                    </redeliveryPolicyMap>
                </redeliveryPolicyMap>
            </redeliveryPlugin>
        </plugins>
        <persistenceAdapter>
            <kahaDB directory="\${activemq.data}/kahadb"/>
        </persistenceAdapter>
        <systemUsage>
            <systemUsage>
                <memoryUsage><memoryUsage limit="128 mb"/></memoryUsage>
                <storeUsage><storeUsage limit="1 gb"/></storeUsage>
                <tempUsage><tempUsage limit="512 mb"/></tempUsage>
            </systemUsage>
        </systemUsage>
        <transportConnectors>
            <transportConnector name="stomp"
                uri="stomp://127.0.0.1:${port}?transport.closeAsync=false&amp;transport.hbGracePeriodMultiplier=1.5"/>
        </transportConnectors>
    </broker>
</beans>
EOF
    cat >"$dir/conf/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, console
log4j.logger.org.springframework=WARN
log4j.logger.org.apache.xbean=WARN
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{HH:mm:ss.SSS} %5p | %m | %c{1} | %t%n
EOF
}

cmd_start() {
    local dir=$1 port pid i
    bash "$FERROMQ_ROOT/conformance/reference/activemq.sh" install >&2
    if pid=$(running_pid "$dir"); then
        die "a broker is already running from $dir (pid $pid); stop it first"
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    port=$(free_port)
    write_config "$dir" "$port"
    nohup java -Xms64m -Xmx512m -Djava.awt.headless=true \
        -Djava.io.tmpdir="$dir/tmp" \
        -Dactivemq.home=/usr/share/activemq \
        -Dactivemq.base="$dir" \
        -Dactivemq.conf="$dir/conf" \
        -Dactivemq.data="$dir/data" \
        -Dlog4j.configuration="file:$dir/conf/log4j.properties" \
        -jar "$AMQ_JAR" start "xbean:file:$dir/conf/activemq.xml" \
        </dev/null >"$dir/activemq.log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$dir/activemq.pid"
    for ((i = 0; i < START_TIMEOUT * 4; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 40 "$dir/activemq.log" >&2 || true
            die "ActiveMQ exited during start-up (log: $dir/activemq.log)"
        fi
        if port_open "$port"; then
            log "ActiveMQ pid $pid (queue policy $policy): stomp://127.0.0.1:$port (dir $dir)"
            printf '%s\n' "$port"
            return 0
        fi
        sleep 0.25
    done
    tail -n 40 "$dir/activemq.log" >&2 || true
    kill "$pid" 2>/dev/null || true
    die "STOMP port $port did not accept within ${START_TIMEOUT}s (log: $dir/activemq.log)"
}

cmd_stop() {
    local dir=$1 pid i
    if pid=$(running_pid "$dir"); then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 120; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid ignored SIGTERM for 30s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped ActiveMQ pid $pid"
    fi
    if [[ -d $dir && -z ${KEEP_AMQ_DIR:-} ]]; then
        rm -rf "$dir"
    fi
}

case ${1:-} in
    start) cmd_start "${2:?usage: $0 start WORKDIR}" ;;
    stop) cmd_stop "${2:?usage: $0 stop WORKDIR}" ;;
    *)
        printf 'usage: %s start|stop WORKDIR\n' "$0" >&2
        exit 2
        ;;
esac
