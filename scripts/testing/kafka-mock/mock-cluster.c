// A throwaway Kafka-protocol server for eventwire's tests, started by
// scripts/testing/kafka-server.ts. Why a C program of our own: no Kafka broker
// is packaged for Debian, but librdkafka (librdkafka-dev) carries a mock
// cluster that speaks the Kafka protocol on real TCP sockets with its own
// in-memory log. It is a library, not a program: something has to host it,
// and only its C API can create topics with a chosen partition count (the
// mock has no CreateTopics) or take brokers down and up (kcat, which can host
// it, offers neither). This is that host, and nothing more.
//
// usage: mock-cluster <brokers>
// stdout: "bootstrap <host:port>,<host:port>..." once every broker listens
//         (brokers are numbered 1..n in that order), then exactly one reply
//         line per command: "ok <command>" or "error <reason> <command>".
// stdin, one command a line:
//   topic <name> <partitions>           create a topic (replication factor 1)
//   down <broker> / up <broker>         close a broker's connections and stop
//                                       answering / answer again
//   leader <topic> <partition> <broker> move a partition's leadership
//   rtt <broker> <ms>                   delay every answer of a broker
//   quit
// stdin at its end (the owner died or closed it) ends the program too, so an
// orphan cannot outlive the test process that started it.
//
// environment: MOCK_CLUSTER_PORTS=<port>,<port>... — the brokers listen on
// these ports instead of OS-chosen ones, so a test can kill this process and
// start another at the same addresses (a Kafka restarted in place; the
// clients' bootstrap list stays true). The mock binds port 0 and has no
// option for it, so the program's own bind() below stands in for libc's for
// librdkafka's calls (the executable's symbol comes first in the lookup).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char *pinned_ports; /* what is left of MOCK_CLUSTER_PORTS */

int bind(int fd, const struct sockaddr *address, socklen_t length) {
  static int (*real_bind)(int, const struct sockaddr *, socklen_t);
  if (!real_bind) real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
  if (pinned_ports && *pinned_ports && address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in) &&
      ((const struct sockaddr_in *)address)->sin_port == 0) {
    struct sockaddr_in pinned = *(const struct sockaddr_in *)address;
    char *end;
    long port = strtol(pinned_ports, &end, 10);
    pinned_ports = *end == ',' ? end + 1 : end;
    pinned.sin_port = htons((unsigned short)port);
    // The previous process's connections may linger in TIME_WAIT on the port.
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    return real_bind(fd, (const struct sockaddr *)&pinned, sizeof pinned);
  }
  return real_bind(fd, address, length);
}

static void reply(const char *status, const char *line) {
  // The command is echoed so a reader can tell which command an answer is for.
  printf("%s %s", status, line);
  if (line[0] == '\0' || line[strlen(line) - 1] != '\n') putchar('\n');
  fflush(stdout);
}

int main(int argc, char **argv) {
  int brokers = argc > 1 ? atoi(argv[1]) : 1;
  if (brokers < 1) {
    fprintf(stderr, "mock-cluster: broker count must be at least 1\n");
    return 2;
  }
  pinned_ports = getenv("MOCK_CLUSTER_PORTS");
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  // The handle only owns the mock cluster; it never connects anywhere, so its
  // own "no bootstrap.servers" notices are noise.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    fprintf(stderr, "mock-cluster: rd_kafka_new: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    fprintf(stderr, "mock-cluster: rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);

  char line[1024], name[512];
  int a, b;
  while (fgets(line, sizeof line, stdin)) {
    rd_kafka_resp_err_t r;
    if (sscanf(line, "topic %511s %d", name, &a) == 2) r = rd_kafka_mock_topic_create(mc, name, a, 1);
    else if (sscanf(line, "down %d", &a) == 1) r = rd_kafka_mock_broker_set_down(mc, a);
    else if (sscanf(line, "up %d", &a) == 1) r = rd_kafka_mock_broker_set_up(mc, a);
    else if (sscanf(line, "leader %511s %d %d", name, &a, &b) == 3) r = rd_kafka_mock_partition_set_leader(mc, name, a, b);
    else if (sscanf(line, "rtt %d %d", &a, &b) == 2) r = rd_kafka_mock_broker_set_rtt(mc, a, b);
    else if (strncmp(line, "quit", 4) == 0) break;
    else {
      reply("error unknown_command", line);
      continue;
    }
    if (r == RD_KAFKA_RESP_ERR_NO_ERROR) reply("ok", line);
    else {
      char status[256];
      snprintf(status, sizeof status, "error %s", rd_kafka_err2name(r));
      reply(status, line);
    }
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
