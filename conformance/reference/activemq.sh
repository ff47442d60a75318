#!/usr/bin/env bash
# Start/stop Debian's ActiveMQ Classic 5.17 on loopback as the STOMP reference broker.
#
#   activemq.sh install            apt-get install activemq if it is missing
#   activemq.sh start [WORKDIR]    write a config into WORKDIR, start the broker, wait until the
#                                  STOMP port accepts, print the port on stdout
#   activemq.sh stop  [WORKDIR]    stop the broker started in WORKDIR and delete WORKDIR
#   activemq.sh status [WORKDIR]   print the port if the broker in WORKDIR is running
#
# WORKDIR defaults to $FERROMQ_AMQ_DIR or ${TMPDIR:-/tmp}/ferromq-activemq.<uid>. Everything the
# broker writes (config, KahaDB, logs) stays inside it. Set KEEP_AMQ_DIR=1 to keep it after stop,
# and AMQ_KEEP_DATA=1 to start again on the data kept there.
# The STOMP connector binds 127.0.0.1 only, with transport.hbGracePeriodMultiplier=1.5 so the
# reference enforces client heart-beats with the same grace ferromq uses (ActiveMQ's default is
# a strict 1.0; AMQ_HB_GRACE overrides it; AMQ_QUEUE_POLICY adds policyEntry attributes for
# every queue), and the broker runs the redeliveryPlugin
# (schedulerSupport="true") so a NACKed message is redelivered rather than dead-lettered at
# once, as in ferromq.
# AMQ_CONFIG=FILE starts the broker with that activemq.xml instead (the policy suite's reference
# mode runs ActiveMQ on the very file it gives ferromq). Only what a shared test machine needs is
# rewritten: the stomp:// connector's address becomes 127.0.0.1:<free port> (its options kept),
# and dataDirectory and the kahaDB directory point into WORKDIR/data. Everything else, such as
# schedulerSupport="true", policies and plugins, is the file's own.
set -euo pipefail

# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

AMQ_JAR=/usr/share/activemq/bin/activemq.jar
START_TIMEOUT=${AMQ_START_TIMEOUT:-90}

log() { printf 'activemq.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

default_workdir() {
    printf '%s\n' "${FERROMQ_AMQ_DIR:-${TMPDIR:-/tmp}/ferromq-activemq.$(id -u)}"
}

cmd_install() {
    if [[ -e $AMQ_JAR ]] && command -v java >/dev/null 2>&1; then
        return 0
    fi
    apt_ensure activemq >&2
    [[ -e $AMQ_JAR ]] || die "$AMQ_JAR missing after installing activemq"
}

free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

port_open() {
    # bash's /dev/tcp: succeeds once something accepts on the port
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running_pid() {
    local dir=$1 pid
    [[ -f $dir/activemq.pid ]] || return 1
    pid=$(<"$dir/activemq.pid")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

write_config() {
    local dir=$1 port=$2 policy=""
    mkdir -p "$dir/conf" "$dir/data" "$dir/tmp"
    # AMQ_QUEUE_POLICY: attributes of a policyEntry for every queue (the benchmarks use it for
    # prioritizedMessages="true"); the conformance reference runs without one.
    if [[ -n ${AMQ_QUEUE_POLICY:-} ]]; then
        policy="<destinationPolicy><policyMap><policyEntries>
            <policyEntry queue=\">\" ${AMQ_QUEUE_POLICY}/>
        </policyEntries></policyMap></destinationPolicy>"
    fi
    cat >"$dir/conf/activemq.xml" <<EOF
<beans
  xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">

    <!-- lets \${activemq.data} below resolve from the -D system properties -->
    <bean class="org.springframework.beans.factory.config.PropertyPlaceholderConfigurer"/>

    <broker xmlns="http://activemq.apache.org/schema/core"
            brokerName="ferromq-reference"
            useJmx="false"
            schedulerSupport="true"
            dataDirectory="\${activemq.data}">
        ${policy}
        <!-- NACKed messages come back (redelivered:true) instead of going straight to the DLQ,
             as ferromq does by default; ActiveMQ requires delays of at least 1000 ms here. -->
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
                uri="stomp://127.0.0.1:${port}?transport.closeAsync=false&amp;transport.hbGracePeriodMultiplier=${AMQ_HB_GRACE:-1.5}"/>
        </transportConnectors>
    </broker>
</beans>
EOF
    # Debian's activemq logs through log4j 1.x: a console logger, which nohup sends to a file.
    cat >"$dir/conf/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, console
log4j.logger.org.springframework=WARN
log4j.logger.org.apache.xbean=WARN
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{HH:mm:ss.SSS} %5p | %m | %c{1} | %t%n
EOF
    if [[ -n ${AMQ_CONFIG:-} ]]; then
        rewrite_config "$AMQ_CONFIG" "$dir/conf/activemq.xml" "$port" "$dir/data"
    fi
}

# rewrite_config SRC DST PORT DATA: SRC with its STOMP connector on 127.0.0.1:PORT and its data
# (dataDirectory, kahaDB directory) under DATA, written to DST.
rewrite_config() {
    python3 - "$@" <<'EOF' || die "cannot use AMQ_CONFIG=$1"
import re, sys
src, dst, port, data = sys.argv[1:]
xml = open(src).read()
xml, n = re.subn(r'(<transportConnector\b[^>]*\buri=")(stomp(\+nio)?)://[^"?]*',
                 lambda m: f"{m[1]}{m[2]}://127.0.0.1:{port}", xml)
if n != 1:
    sys.exit(f"{src}: {n} stomp:// transportConnectors, expected one")
xml, n = re.subn(r'(<broker\b[^>]*\bdataDirectory=")[^"]*', lambda m: m[1] + data, xml)
if n == 0:  # ActiveMQ's default is ./activemq-data: keep it in the work dir too
    xml = re.sub(r"<broker\b", lambda m: f'{m[0]} dataDirectory="{data}"', xml, count=1)
xml = re.sub(r'(<kahaDB\b[^>]*\bdirectory=")[^"]*', lambda m: m[1] + data + "/kahadb", xml)
open(dst, "w").write(xml)
EOF
}

cmd_start() {
    local dir=$1 port pid i
    cmd_install
    if pid=$(running_pid "$dir"); then
        die "a broker is already running from $dir (pid $pid, port $(<"$dir/port")); stop it first"
    fi
    # AMQ_KEEP_DATA=1 restarts on the KahaDB a previous start (stopped with KEEP_AMQ_DIR=1)
    # left behind: the start-up-with-backlog benchmark.
    [[ -n ${AMQ_KEEP_DATA:-} ]] || rm -rf "$dir"
    mkdir -p "$dir"
    port=$(free_port)
    write_config "$dir" "$port"
    printf '%s\n' "$port" >"$dir/port"
    # activemq.jar's "start" task runs the broker in the foreground: background it ourselves.
    # The log is appended to, so a restart on kept data (AMQ_KEEP_DATA) keeps the earlier one.
    nohup java -Xms64m -Xmx512m -Djava.awt.headless=true \
        -Djava.io.tmpdir="$dir/tmp" \
        -Dactivemq.home=/usr/share/activemq \
        -Dactivemq.base="$dir" \
        -Dactivemq.conf="$dir/conf" \
        -Dactivemq.data="$dir/data" \
        -Dlog4j.configuration="file:$dir/conf/log4j.properties" \
        -jar "$AMQ_JAR" start "xbean:file:$dir/conf/activemq.xml" \
        </dev/null >>"$dir/activemq.log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$dir/activemq.pid"
    for ((i = 0; i < START_TIMEOUT * 4; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 40 "$dir/activemq.log" >&2 || true
            die "ActiveMQ exited during start-up (log: $dir/activemq.log)"
        fi
        if port_open "$port"; then
            log "ActiveMQ $(basename "$(readlink -f "$AMQ_JAR")") pid $pid: stomp://127.0.0.1:$port (dir $dir)"
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

cmd_status() {
    local dir=$1 pid
    if pid=$(running_pid "$dir"); then
        printf '%s\n' "$(<"$dir/port")"
    else
        log "not running (dir $dir)"
        return 1
    fi
}

main() {
    local action=${1:-}
    local dir=${2:-$(default_workdir)}
    case $action in
        install) cmd_install ;;
        start) cmd_start "$dir" ;;
        stop) cmd_stop "$dir" ;;
        status) cmd_status "$dir" ;;
        *)
            printf 'usage: %s install|start|stop|status [WORKDIR]\n' "$0" >&2
            exit 2
            ;;
    esac
}

main "$@"
