package io.handoffbroker.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.testing.LiveThreads;
import io.handoffbroker.testing.PrometheusSamples;
import io.handoffbroker.unix.PeerUidNotAllowedException;
import io.handoffbroker.unix.ProcessUser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A service's handoff endpoint that does not answer is probed with its backend: each change of
 * its reachability is logged once (WARN when it goes, INFO when it answers), the {@code backends}
 * health component names it in the backend's detail and stays UP (its clients still connect,
 * through {@code backend_pipe}), and {@code handoff_endpoints_reachable} counts it.
 */
@ExtendWith(OutputCaptureExtension.class)
class HandoffEndpointReachabilityTest {

    private static final String GAUGE = "running_process_broker_v1_handoff_endpoints_reachable";
    private static final String DOWN = "handoff endpoint of backend billing@2.4.1 is not reachable at ";
    private static final String UP = "handoff endpoint of backend billing@2.4.1 is reachable at ";
    private static final Duration PROBE_INTERVAL = Duration.ofMillis(200);
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;

    @Test
    void aHandoffEndpointGoingAndComingBackIsLoggedOnceEachTimeShownInHealthAndCounted(CapturedOutput output)
            throws Exception {
        Set<Thread> threadsBefore = LiveThreads.snapshot();
        Path pipe = dir.resolve("b").resolve("pipe.sock");
        Path endpoint = dir.resolve("h").resolve("handoff.sock");
        try (BackendServer _ = new BackendServer(pipe, new EchoHandler(), 64).start();
                RunningBroker broker = RunningBroker.start(dir.resolve("s").resolve("broker.sock"),
                        "--broker.demo.enabled=false",
                        "--broker.services[0].name=billing", "--broker.services[0].version=2.4.1",
                        "--broker.services[0].backend-endpoint=" + pipe,
                        "--broker.services[0].handoff-endpoint=" + endpoint,
                        "--broker.backend-probe.interval=" + PROBE_INTERVAL.toMillis() + "ms")) {
            // Nothing at the handoff endpoint yet: reported from the first probe, before any client.
            assertThat(count(output, "WARN", DOWN)).as(output.getOut()).isEqualTo(1);
            assertThat(gauge(broker)).isEqualTo(0.0);
            JsonNode backends = backends(broker);
            assertThat(backends.at("/status").asString()).as("clients are still served").isEqualTo("UP");
            assertThat(backends.at("/details/billing@2.4.1").asString())
                    .startsWith("reachable; handoff on (handoff endpoint unreachable: ")
                    .contains("clients reconnect");
            assertThat(connect(broker)).isEqualTo(Route.RECONNECTED);

            // Its backend starts listening there: handed connections again.
            try (BackendServer handoffs = new BackendServer(dir.resolve("b").resolve("other-pipe.sock"),
                    Optional.of(endpoint), new EchoHandler(), 64).start()) {
                await(() -> count(output, "INFO", UP) == 1, "the endpoint is reported reachable");
                await(() -> gauge(broker) == 1.0, "the gauge counts it");
                assertThat(backends(broker).at("/details/billing@2.4.1").asString())
                        .startsWith("reachable; handoff on, pool");
                assertThat(connect(broker)).isEqualTo(Route.HANDED_OFF);
                Thread.sleep(5 * PROBE_INTERVAL.toMillis()); // probed again and again: no further line
                assertThat(count(output, "INFO", UP)).as(output.getOut()).isEqualTo(1);
            }

            // Gone again.
            await(() -> count(output, "WARN", DOWN) == 2, "the endpoint is reported unreachable again");
            await(() -> gauge(broker) == 0.0, "the gauge drops");
            Thread.sleep(5 * PROBE_INTERVAL.toMillis());
            assertThat(count(output, "WARN", DOWN)).as(output.getOut()).isEqualTo(2);
            assertThat(count(output, "INFO", UP)).as(output.getOut()).isEqualTo(1);
            assertThat(backends(broker).at("/status").asString()).isEqualTo("UP");
            assertThat(connect(broker)).isEqualTo(Route.RECONNECTED);
        }
        LiveThreads.awaitGone(threadsBefore, WAIT, "broker-", "backend-");
    }

    @Test
    void aHandoffEndpointWhoseListenerRunsAsAUidTheServiceDoesNotAllowIsShownUnreachableWithItsUidAndNeverHandedAClient(
            CapturedOutput output) throws Exception {
        long ours = ProcessUser.uid();
        long stranger = ours == 4242 ? 4243 : 4242;
        Path pipe = dir.resolve("b").resolve("pipe.sock");
        Path endpoint = dir.resolve("h").resolve("handoff.sock");
        // A backend that would take the broker's handoffs, listening as this test's uid; the service allows another.
        try (BackendServer _ = new BackendServer(pipe, Optional.of(endpoint), new EchoHandler(), 64).start();
                RunningBroker broker = RunningBroker.start(dir.resolve("s").resolve("broker.sock"),
                        "--broker.demo.enabled=false",
                        "--broker.services[0].name=billing", "--broker.services[0].version=2.4.1",
                        "--broker.services[0].backend-endpoint=" + pipe,
                        "--broker.services[0].handoff-endpoint=" + endpoint,
                        "--broker.services[0].handoff-endpoint-uids=" + stranger,
                        "--broker.backend-probe.interval=" + PROBE_INTERVAL.toMillis() + "ms")) {
            String reason = PeerUidNotAllowedException.NOT_ALLOWED + ": uid " + ours + " (pid "
                    + ProcessHandle.current().pid() + "), allowed [" + stranger + "]";
            assertThat(output.getOut().lines().filter(line -> line.contains("WARN") && line.contains(DOWN)
                    && line.contains(reason))).as(output.getOut()).hasSize(1);
            assertThat(gauge(broker)).isEqualTo(0.0);
            JsonNode backends = backends(broker);
            assertThat(backends.at("/status").asString()).as("clients are still served").isEqualTo("UP");
            assertThat(backends.at("/details/billing@2.4.1").asString())
                    .startsWith("reachable; handoff on (handoff endpoint unreachable: ").contains(reason)
                    .contains("clients reconnect");
            assertThat(connect(broker)).isEqualTo(Route.RECONNECTED);
            // The fallback is counted once the broker has written the Negotiated: the client can have
            // read it, reconnected and had its echo before then.
            await(() -> PrometheusSamples.parse(broker.scrape()).get("running_process_broker_v1_handoff_fallback_total",
                    "service", "billing", "reason", "permission_denied") > 0, "the fallback counted");
            PrometheusSamples samples = PrometheusSamples.parse(broker.scrape());
            assertThat(samples.get("running_process_broker_v1_handoff_fallback_total", "service", "billing", "reason",
                    "permission_denied")).isEqualTo(1.0);
            // The client was not offered a handoff, but the pool's pre-dials at start-up were refused, and counted.
            double rejected = samples.get("running_process_broker_v1_handoff_endpoint_peer_rejected_total", "service",
                    "billing");
            assertThat(rejected).isPositive();
            // Probed again and again, each probe counted (the pool dials at most once a maintenance run, 5 s): a
            // listener that took the endpoint after start-up, which no dial meets, is counted all the same.
            await(() -> PrometheusSamples.parse(broker.scrape()).get(
                    "running_process_broker_v1_handoff_endpoint_peer_rejected_total", "service", "billing")
                    >= rejected + 3, "three more refused probes counted");
            // And none of those probes logged a further line.
            assertThat(count(output, "WARN", DOWN)).as(output.getOut()).isEqualTo(1);
        }
    }

    /** Connects to billing and has one echo; the route it took. */
    private static Route connect(RunningBroker broker) throws Exception {
        try (ServiceConnection connection = new BrokerClient(broker.socket()).connect("billing", "2.4.1")) {
            connection.out().write("ping".getBytes(StandardCharsets.UTF_8));
            connection.out().flush();
            assertThat(connection.in().readNBytes(4)).isEqualTo("ping".getBytes(StandardCharsets.UTF_8));
            return connection.route();
        }
    }

    private static JsonNode backends(RunningBroker broker) throws Exception {
        return JSON.readTree(broker.get("/actuator/health/backends").body());
    }

    private static double gauge(RunningBroker broker) throws Exception {
        return PrometheusSamples.parse(broker.scrape()).get(GAUGE, "service", "billing");
    }

    /** Lines of that level with that text, in the text format or a structured one. */
    private static long count(CapturedOutput output, String level, String text) {
        return output.getOut().lines().filter(line -> line.contains(level) && line.contains(text)).count();
    }

    private static void await(Callable<Boolean> condition, String what) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.call()) {
            assertThat(System.nanoTime() - deadline).as("within %s: %s", WAIT, what).isNegative();
            Thread.sleep(50);
        }
    }
}
