package io.handoffbroker.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.server.SocketFileWatch;
import io.handoffbroker.testing.LiveThreads;
import io.handoffbroker.testing.PrometheusSamples;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * The broker's socket path must name the socket its listener bound, or no new client can find
 * it however healthy it is. Once it does not (the file removed, as a cleaner of temporary files
 * does, or another file put there), the broker says so once at WARN, its liveness turns BROKEN
 * (HTTP 503) so that a supervisor restarts it, and {@code listener_reachable} drops to 0; should
 * the path name its socket again, it says that at INFO and is live again.
 */
@ExtendWith(OutputCaptureExtension.class)
class ListenerReachabilityTest {

    private static final String GAUGE = "running_process_broker_v1_listener_reachable";
    private static final String LOST = "no longer names this broker's listening socket";
    private static final String BACK = "names this broker's listening socket again";
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void aRemovedSocketFileMakesTheBrokerNotLiveAndIsReportedOnce(CapturedOutput output) throws Exception {
        Set<Thread> threadsBefore = LiveThreads.snapshot();
        try (RunningBroker broker = RunningBroker.start(dir.resolve("s").resolve("broker.sock"))) {
            assertStatus(broker, "/actuator/health/liveness", 200, "UP");
            assertThat(gauge(broker)).isEqualTo(1.0);

            Files.delete(broker.socket()); // as a cleaner of temporary files would

            await(() -> broker.get("/actuator/health/liveness").statusCode() == 503, "liveness turns DOWN");
            assertStatus(broker, "/actuator/health/liveness", 503, "DOWN");
            assertStatus(broker, "/actuator/health/readiness", 503, "DOWN");
            assertThat(gauge(broker)).isEqualTo(0.0);
            // Checked again and again meanwhile: still one warning.
            Thread.sleep(3 * SocketFileWatch.INTERVAL.toMillis());
            assertThat(count(output, "WARN", LOST)).as(output.getOut()).isEqualTo(1);
            assertStatus(broker, "/actuator/health/liveness", 503, "DOWN");
        }
        LiveThreads.awaitGone(threadsBefore, WAIT, "broker-", "backend-");
    }

    @Test
    void aSocketFileReplacedIsALossAndTheOwnFileBackMakesTheBrokerLiveAgain(CapturedOutput output) throws Exception {
        try (RunningBroker broker = RunningBroker.start(dir.resolve("s").resolve("broker.sock"))) {
            Path socket = broker.socket();
            Path aside = socket.resolveSibling("aside.sock");
            Files.move(socket, aside);
            await(() -> broker.get("/actuator/health/liveness").statusCode() == 503, "liveness turns DOWN");

            // Another socket at the path is not the broker's: same path, another inode.
            try (AFUNIXServerSocket other = AFUNIXServerSocket.newInstance()) {
                other.setDeleteOnClose(false);
                other.bind(AFUNIXSocketAddress.of(socket));
                Thread.sleep(3 * SocketFileWatch.INTERVAL.toMillis());
                assertStatus(broker, "/actuator/health/liveness", 503, "DOWN");
                assertThat(gauge(broker)).isEqualTo(0.0);
            }
            Files.delete(socket);
            Files.move(aside, socket); // the broker's own socket file, moved back

            await(() -> broker.get("/actuator/health/liveness").statusCode() == 200, "liveness is UP again");
            assertStatus(broker, "/actuator/health/readiness", 200, "UP");
            assertThat(gauge(broker)).isEqualTo(1.0);
            assertThat(count(output, "WARN", LOST)).as(output.getOut()).isEqualTo(1);
            assertThat(count(output, "INFO", BACK)).as(output.getOut()).isEqualTo(1);
            try (ServiceConnection connection = new BrokerClient(socket).connect("echo", "1.0.0")) {
                connection.out().write("back".getBytes(StandardCharsets.UTF_8));
                connection.out().flush();
                assertThat(connection.in().readNBytes(4)).isEqualTo("back".getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    private static double gauge(RunningBroker broker) throws Exception {
        return PrometheusSamples.parse(broker.scrape()).get(GAUGE);
    }

    /** Lines of that level with that text, in the text format or a structured one. */
    private static long count(CapturedOutput output, String level, String text) {
        return output.getOut().lines().filter(line -> line.contains(level) && line.contains(text)).count();
    }

    private static void assertStatus(RunningBroker broker, String path, int status, String state) throws Exception {
        HttpResponse<String> response = broker.get(path);
        assertThat(response.statusCode()).as("%s: %s", path, response.body()).isEqualTo(status);
        assertThat(response.body()).as(path).contains("\"status\":\"" + state + "\"");
    }

    private static void await(Callable<Boolean> condition, String what) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.call()) {
            assertThat(System.nanoTime() - deadline).as("within %s: %s", WAIT, what).isNegative();
            Thread.sleep(50);
        }
    }
}
