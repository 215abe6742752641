#!/usr/bin/env bash
# Runs a Kafka command-line tool class with the stack's Kafka jars ($OPSDECK_HOME/dist/kafka/libs).
#
#   scripts/kafka-tool.sh <MainClass|alias> args...
#
# Aliases: topics, consumer-groups, console-producer, console-consumer, producer-perf-test,
# consumer-perf-test, broker-api-versions, get-offsets, metadata-quorum. Any other word is taken as a
# main class, e.g. org.apache.kafka.tools.ProducerPerformance. JVM options: KAFKA_TOOL_OPTS (default -Xmx512m).
# The broker: --bootstrap-server 127.0.0.1:${OPSDECK_KAFKA_PORT:-59092}. Examples:
#   scripts/kafka-tool.sh topics --bootstrap-server 127.0.0.1:59092 --list
#   echo hello | scripts/kafka-tool.sh console-producer --bootstrap-server 127.0.0.1:59092 --topic smoke
#   scripts/kafka-tool.sh console-consumer --bootstrap-server 127.0.0.1:59092 --topic smoke --from-beginning --max-messages 1
#   scripts/kafka-tool.sh consumer-groups --bootstrap-server 127.0.0.1:59092 --describe --all-groups
#   scripts/kafka-tool.sh producer-perf-test --topic perf --num-records 100000 --record-size 512 \
#     --throughput -1 --producer-props bootstrap.servers=127.0.0.1:59092 acks=all
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$STACK_ROOT/scripts/services/kafka.sh"
kafka_tool "$@"
