package io.handoffbroker.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.handoffbroker.config.BrokerLifecycle;
import io.handoffbroker.server.BrokerServer;
import io.handoffbroker.server.SocketFileWatch;
import io.handoffbroker.testing.LiveThreads;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.HelloReply;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * While the broker drains, the readiness probe says OUT_OF_SERVICE (HTTP 503) so
 * an orchestrator stops sending clients, and the liveness probe stays UP so it does
 * not kill a process that is shutting down cleanly. A client connection that has
 * not sent its Hello keeps the drain going (hello timeout and grace period are
 * long) for as long as the test looks; its Hello then ends the drain. The drain removes the
 * socket file itself: that is no lost socket file, so liveness stays UP and nothing warns of it.
 */
@ExtendWith(OutputCaptureExtension.class)
class ReadinessWhileDrainingTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void stoppingTheBrokerLifecycleTakesReadinessOutOfServiceWhileLivenessStaysUp(CapturedOutput output)
            throws Exception {
        Set<Thread> threadsBefore = LiveThreads.snapshot();
        try (RunningBroker broker = start()) {
            BrokerLifecycle lifecycle = broker.context().getBean(BrokerLifecycle.class);
            drainWhileHoldingAClient(broker, output, () -> lifecycle.stop());
            assertFalse(lifecycle.isRunning());
        }
        LiveThreads.awaitGone(threadsBefore, WAIT, "broker-", "backend-");
    }

    @Test
    void closingTheApplicationDrainsWhileTheProbesStillAnswer(CapturedOutput output) throws Exception {
        Set<Thread> threadsBefore = LiveThreads.snapshot();
        try (RunningBroker broker = start()) {
            // What SIGTERM does: the context closes, and the broker drains before the web server stops.
            drainWhileHoldingAClient(broker, output, () -> broker.context().close());
            assertFalse(broker.context().isActive());
        }
        LiveThreads.awaitGone(threadsBefore, WAIT, "broker-", "backend-");
    }

    private RunningBroker start() {
        return RunningBroker.start(dir.resolve("s").resolve("broker.sock"), "--broker.hello-timeout=30s",
                "--broker.shutdown-grace-period=20s");
    }

    private static void drainWhileHoldingAClient(RunningBroker broker, CapturedOutput output, Runnable stop)
            throws Exception {
        BrokerServer server = broker.context().getBean(BrokerServer.class);
        assertProbe(broker, "/actuator/health/readiness", 200, "UP");
        assertProbe(broker, "/actuator/health/liveness", 200, "UP");

        try (RawClient held = RawClient.connect(broker.socket(), WAIT)) {
            assertTrue(RecordingHandoffEvents.awaitTrue(() -> server.openConnections() == 1, WAIT),
                    "the held connection was accepted");
            AtomicReference<Throwable> failed = new AtomicReference<>();
            CompletableFuture<Void> stopping = CompletableFuture.runAsync(() -> {
                try {
                    stop.run();
                } catch (Throwable e) {
                    failed.set(e);
                }
            }, runnable -> Thread.ofPlatform().name("test-stop").start(runnable));

            assertTrue(RecordingHandoffEvents.awaitTrue(server::isDraining, WAIT), "the broker drains");
            assertTrue(RecordingHandoffEvents.awaitTrue(() -> status(broker, "/actuator/health/readiness") == 503,
                    WAIT), "readiness went out of service");
            assertProbe(broker, "/actuator/health/readiness", 503, "OUT_OF_SERVICE");
            assertProbe(broker, "/actuator/health/liveness", 200, "UP");
            assertFalse(Files.exists(broker.socket()), "no new client can connect while draining");
            // Long enough for the socket file to have been checked several times, were it checked.
            Thread.sleep(3 * SocketFileWatch.INTERVAL.toMillis());
            assertProbe(broker, "/actuator/health/liveness", 200, "UP");
            assertFalse(output.getOut().contains("no longer names this broker's listening socket"),
                    "the drain's own removal of the socket file is not reported as lost");
            assertFalse(stopping.isDone(), "the drain waits for the held connection");

            // The held client's Hello is answered SHUTTING_DOWN, which closes the last connection.
            HelloReply reply = held.hello(RawClient.hello("echo", "1.0.0"));
            assertEquals(ErrorCode.ERROR_SHUTTING_DOWN, reply.getRefused().getCode(), reply::toString);
            stopping.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertEquals(null, failed.get());
        }
    }

    private static void assertProbe(RunningBroker broker, String path, int status, String state) throws Exception {
        HttpResponse<String> response = broker.get(path);
        assertEquals(status, response.statusCode(), () -> path + ": " + response.body());
        assertTrue(response.body().contains("\"status\":\"" + state + "\""), () -> path + ": " + response.body());
    }

    private static int status(RunningBroker broker, String path) {
        try {
            return broker.get(path).statusCode();
        } catch (Exception e) {
            throw new IllegalStateException(path, e);
        }
    }
}
